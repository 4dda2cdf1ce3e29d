case "otp with balances" {
  to      = "+959791234567"
  kind    = "otp"
  balance = { smpp-a = 60, smpp-b = 60 }
  route   = "otp"
  plan    = ["smpp-b", "smpp-a"]
}
case "otp without balances falls through" {
  to    = "+959791234567"
  kind  = "otp"
  route = "default"
}
case "marketing at night falls to the default" {
  to    = "+959791234567"
  kind  = "marketing"
  at    = "2026-12-07T23:10+06:30"
  route = "default"
}
case "marketing by day, the weighted draw fixed by the id" {
  to    = "+959791234567"
  kind  = "marketing"
  at    = "sat 10:00"
  id    = "msg_1" # draws 94 of 100: past bulk's 70
  route = "marketing-day"
  plan  = ["smpp-a", "bulk"]
}
case "transactional at 21:50 is held until 06:00" {
  to         = "+959791234567"
  kind       = "transactional"
  at         = "21:50"
  route      = "newsletter"
  held_until = "06:00"
}
case "transactional at noon goes at once" {
  to         = "+959791234567"
  kind       = "transactional"
  at         = "12:00"
  route      = "newsletter"
  held_until = "none"
}
