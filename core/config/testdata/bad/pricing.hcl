routing {
  timezone   = "Mars/Olympus"
  currency   = "usd"
  conversion = { EUR = -1 }
}

provider "a" {
  plugin = "sandbox"
  pricing {
    currency  = "GBP"
    default   = -0.1
    countries = { Myanmar = 0.03 }
    operators = { Telenor = 0.02 }
    rates     = "rates/bad.csv"
  }
  limits {
    tps         = 0
    concurrency = 1.5
  }
}

provider "b" {
  plugin = "sandbox"
  pricing {
    rates = "rates/missing.csv"
  }
  pricing {
    default = 1
  }
}

route "default" {
  default    = true
  candidates = ["a", "b"]
}
