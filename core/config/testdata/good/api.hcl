provider "sandbox" {
  plugin = "sandbox"
}
routing {
  currency = "EUR"
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
otp {
  length   = 8
  ttl      = "10m"
  template = "{code} is your code"
  extract {
    sender  = "AcmeBank"
    pattern = "PIN ([0-9]{4})"
  }
  extract {
    pattern = "passphrase [a-z]+-[a-z]+"
  }
}
api {
  sms_per_minute      = 500
  otp_per_hour        = 5
  otp_verify_attempts = 4
  duplicate_window    = "0s"
  max_segments        = 4
  sender_ids          = ["MyShop"]
  account_sender_ids  = { acme = ["ACME", "+14155550100"] }
  currency            = "EUR"
  default_credit      = 12.5
  credit_limit        = 0
  low_balance         = 2.5
  default_validity    = "1h"
  max_validity        = "48h"
  max_schedule_ahead  = "168h"
}
