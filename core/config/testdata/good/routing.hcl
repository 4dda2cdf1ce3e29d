# Every routing feature: the routing block, pricing inline and from a rate
# sheet, limits, rules, filters, strategies and weights.
routing {
  timezone          = "Asia/Yangon"
  currency          = "USD"
  conversion        = { EUR = 1.08 }
  operator_prefixes = "rates/prefixes.csv"
}

provider "android-mm" {
  plugin = "sandbox"
  pricing {
    default = 0
  }
  limits {
    tps         = 0.5
    concurrency = 1
  }
}

provider "smpp-asia" {
  plugin = "smpp"
  pricing {
    currency  = "EUR"
    rates     = "rates/smpp-asia.csv"
    countries = { TH = 0.02 } # overrides the sheet
    operators = { "MM/Telenor" = 0.025 }
  }
  limits {
    tps = 100
  }
}

provider "smpp-eu" {
  plugin = "smpp"
  pricing {
    default   = 0.05
    countries = { DE = 0.07, FR = 0.065 }
  }
}

route "mm-otp" {
  match      = "country == 'MM' && kind == 'otp'"
  candidates = ["android-mm", "smpp-asia"]
  filter     = <<-EOT
    healthy &&
      (!has_balance || balance >= cost)
  EOT
  strategy   = "least_cost"
}

route "eu-split" {
  match      = "country in ['DE', 'FR'] && between(hour, 8, 20)"
  candidates = ["smpp-eu", "smpp-asia"]
  strategy   = "weighted"
  weights    = { smpp-eu = 3, smpp-asia = 1 }
}

route "default" {
  default    = true
  candidates = ["smpp-eu", "smpp-asia"]
  strategy   = "round_robin"
}
