provider "sandbox" {
  plugin = "sandbox"
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
api {
  currency       = "EUR"
  default_credit = 1.1234567
  credit_limit   = -1
  low_balance    = "five"
}
