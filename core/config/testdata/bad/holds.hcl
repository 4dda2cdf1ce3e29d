routing {
  timezone = "Asia/Yangon"
}

provider "a" {
  plugin = "sandbox"
}

route "bad-clock" {
  match      = "kind == 'marketing'"
  candidates = ["a"]
  hold_until = "6am"
}

route "bad-window" {
  match      = "kind == 'otp'"
  candidates = ["a"]
  quiet_hours {
    from = "22:00"
    to   = "24:00"
    zone = "Asia/Rangoon City"
  }
}

route "empty-window" {
  match      = "kind == 'transactional'"
  candidates = ["a"]
  quiet_hours {
    from = "06:00"
    to   = "06:00"
  }
}

route "both" {
  match      = "country == 'MM'"
  candidates = ["a"]
  hold_until = "06:00"
  quiet_hours {
    from = "22:00"
    to   = "06:00"
  }
}

route "default" {
  default    = true
  candidates = ["a"]
}
