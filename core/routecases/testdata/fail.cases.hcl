case "otp with one link down" {
  to        = "+959791234567"
  kind      = "otp"
  balance   = { smpp-a = 60, smpp-b = 60 }
  unhealthy = ["smpp-b"]
  route     = "otp"
  plan      = ["smpp-b", "smpp-a"]
}
case "marketing at 21:50 local" {
  to    = "+959791234567"
  kind  = "marketing"
  at    = "21:50"
  route = "marketing-night"
}
case "a typo in a provider name" {
  to      = "+959791234567"
  balance = { smpp-c = 60 }
  route   = "defualt"
}
case "no route expected" {
  to       = "+959791234567"
  no_route = true
}
case "expects a hold the route does not make" {
  to         = "+959791234567"
  kind       = "transactional"
  at         = "12:00"
  route      = "newsletter"
  held_until = "06:00"
}
