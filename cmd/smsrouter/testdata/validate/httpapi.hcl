# A misspelt httpapi setting: config validate must point at line 12.
database {
  driver = "sqlite"
  path   = "./data/never-created.db"
}

provider "acme" {
  plugin = "httpapi"
  config = {
    base_url       = "https://api.acme-sms.example"
    auth           = { type = "header", header = "X-API-Key", token = "k" }
    default_sendr  = "ACME"
  }
}

route "default" {
  default    = true
  candidates = ["acme"]
}
