# A misspelt sandbox setting, in the second of two sandbox providers (one
# plugin process answers both): config validate must point at line 19.
database {
  driver = "sqlite"
  path   = "./data/never-created.db"
}

provider "sandbox-ok" {
  plugin = "sandbox"
  config = {
    dlr_delay = "1s"
  }
}

provider "sandbox-typo" {
  plugin = "sandbox"
  config = {
    dlr_delay   = "1s"
    dlr_delya   = "2s"
  }
}

route "default" {
  default    = true
  candidates = ["sandbox-ok", "sandbox-typo"]
}
