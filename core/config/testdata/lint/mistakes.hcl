# One of each mistake config validate warns about (docs/routing.md, Lint).
routing {
  operator_prefixes = { "+95979" = "Telenor" }
}
provider "smpp-a" {
  plugin = "sandbox"
  pricing {
    rates     = "rates/smpp-a.csv"
    operators = { "MM/Ooredo" = 0.02 }
  }
}
provider "smpp-b" {
  plugin = "sandbox"
}
route "lower-case-operator" {
  match      = "country == 'MM' && operator == 'telenor'"
  candidates = ["smpp-a"]
}
route "lower-case-country" {
  match      = "country == 'de'"
  candidates = ["smpp-a"]
}
route "unknown-country" {
  match      = "country in ['XX', 'FR']"
  candidates = ["smpp-a"]
}
route "misspelt-kind" {
  match      = "kind == 'transactionnal'"
  candidates = ["smpp-a"]
}
route "never-priced" {
  match      = "country == 'TH'"
  candidates = ["smpp-a", "smpp-b"]
  strategy   = "least_cost"
}
route "shadowed" {
  match      = "country == 'TH' && kind == 'otp'"
  candidates = ["smpp-a"]
}
# hold_until without a time in match holds messages at noon too.
route "night-batch" {
  match      = "kind == 'transactional'"
  candidates = ["smpp-a"]
  hold_until = "06:00"
}

# With the time said in match it is fine.
route "night-batch-timed" {
  match      = "kind == 'sms' && (hour >= 21 || hour < 6)"
  candidates = ["smpp-a"]
  hold_until = "06:00"
}

route "default" {
  default    = true
  candidates = ["smpp-b"]
}
