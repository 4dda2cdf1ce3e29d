provider "a" {
  plugin = "sandbox"
}

route "default" {
  default    = true
  candidates = ["a"]
}

inbound "stop" {
  match       = "keyword in ['STOP', 'UNSUBSCRIBE']"
  account     = "compliance"
  extract_otp = false
}

inbound "bank-codes" {
  match   = "country == 'MM' && from startsWith 'KBZ'"
  account = "bank"
  webhook = "https://bank.example.com/sms"
}

inbound "codes-everywhere" {
  match       = "true"
  extract_otp = true
}
