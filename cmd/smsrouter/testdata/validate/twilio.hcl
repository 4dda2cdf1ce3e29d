# A misspelt twilio setting: config validate must point at line 13.
database {
  driver = "sqlite"
  path   = "./data/never-created.db"
}

provider "twilio-us" {
  plugin = "twilio"
  config = {
    account_sid = "AC0123456789abcdef0123456789abcdef"
    auth_token  = "token"
    from        = "+14155550100"
    requst_timeout = "10s"
  }
}

route "default" {
  default    = true
  candidates = ["twilio-us"]
}
