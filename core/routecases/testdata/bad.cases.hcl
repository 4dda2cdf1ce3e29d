case "no expectation" {
  to = "+959791234567"
}
case "bad time" {
  to    = "+959791234567"
  at    = "tomorrow"
  kind  = "transactionnal"
  route = "default"
}
case "no expectation" {
  to      = "+959791234567"
  success_rate = { smpp-a = 2 }
  no_route = true
  plan    = ["smpp-a"]
}
case "hold written wrongly" {
  to         = "+959791234567"
  route      = "default"
  held_until = "6am"
}
