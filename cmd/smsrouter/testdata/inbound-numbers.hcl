# route explain --inbound: a number a provider block lists is in the
# inventory without --inventory.
provider "mm-sims" {
  plugin  = "sandbox"
  numbers = ["+959791234567", "55555/MM"]
}

route "default" {
  default    = true
  candidates = ["mm-sims"]
}

inbound "stop" {
  match       = "keyword == 'STOP'"
  extract_otp = false
}
