provider "a" {
  plugin = "sandbox"
}

route "two-windows" {
  match      = "country == 'TH'"
  candidates = ["a"]
  quiet_hours {
    to = "06:00"
  }
  quiet_hours {
    from = "22:00"
    to   = "06:00"
  }
}

route "default" {
  default    = true
  candidates = ["a"]
}
