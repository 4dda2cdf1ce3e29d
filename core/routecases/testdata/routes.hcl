routing {
  timezone = "Asia/Yangon"
}
provider "smpp-a" {
  plugin = "sandbox"
  pricing { default = 0.03 }
}
provider "smpp-b" {
  plugin = "sandbox"
  pricing { default = 0.02 }
}
provider "bulk" {
  plugin = "sandbox"
  pricing { default = 0.01 }
}
route "otp" {
  match      = "kind == 'otp'"
  candidates = ["smpp-a", "smpp-b"]
  filter     = "healthy && has_balance && balance > 50"
  strategy   = "least_cost"
}
route "marketing-day" {
  match      = "kind == 'marketing' && between(hour, 6, 22)"
  candidates = ["bulk", "smpp-a"]
  strategy   = "weighted"
  weights    = { bulk = 70, smpp-a = 30 }
}
route "marketing-night" {
  match      = "kind == 'marketing'"
  candidates = ["bulk"]
  filter     = "provider != 'bulk'"
}
route "newsletter" {
  match      = "kind == 'transactional'"
  candidates = ["bulk"]
  quiet_hours {
    from = "21:00"
    to   = "06:00"
  }
}
route "default" {
  default    = true
  candidates = ["smpp-a"]
}
