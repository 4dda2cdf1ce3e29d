# Routing cases for production.example.hcl: each case is a message, the
# moment it is sent and what the providers report then, with the route and
# plan it must get. `smsrouter config validate` runs them (the routing
# block's cases setting names this file) and fails with a diff when a rule
# change breaks one. Providers not named are healthy with no balance known.

case "myanmar otp goes to the cheapest link first" {
  to    = "+959791234567" # Telenor, priced per operator in the rate sheet
  kind  = "otp"
  route = "mm-otp"
  plan  = ["smpp-asia-1", "smpp-asia-2", "aggregator"]
}

case "myanmar otp skips a link that is down" {
  to        = "+959791234567"
  kind      = "otp"
  unhealthy = ["smpp-asia-1"]
  route     = "mm-otp"
  plan      = ["smpp-asia-2", "aggregator"]
}

case "myanmar otp skips a link whose balance does not cover it" {
  to      = "+959791234567"
  kind    = "otp"
  balance = { smpp-asia-1 = 0.01, smpp-asia-2 = 60 }
  route   = "mm-otp"
  plan    = ["smpp-asia-2", "aggregator"]
}

case "myanmar otp reaches the aggregator with both links down" {
  to        = "+959791234567"
  kind      = "otp"
  unhealthy = ["smpp-asia-1", "smpp-asia-2"]
  at        = "sun 03:00"
  route     = "mm-otp"
  plan      = ["aggregator"]
}

case "other myanmar traffic by operator price" {
  to    = "+959250123456" # MPT
  route = "mm"
  plan  = ["smpp-asia-2", "smpp-asia-1"]
}

case "other myanmar traffic falls to the default with both links down" {
  to        = "+959250123456"
  unhealthy = ["smpp-asia-1", "smpp-asia-2"]
  route     = "default"
  plan      = ["aggregator"]
}

case "myanmar marketing goes to the phones first" {
  to    = "+959250123456"
  kind  = "marketing"
  route = "mm-marketing"
  plan  = ["android-mm", "smpp-asia-2", "smpp-asia-1"]
}

case "myanmar marketing at 21:50 waits for 06:00" {
  to         = "+959250123456"
  kind       = "marketing"
  at         = "21:50"
  route      = "mm-marketing"
  held_until = "06:00"
}

case "myanmar marketing by day goes at once" {
  to         = "+959250123456"
  kind       = "marketing"
  at         = "10:00"
  route      = "mm-marketing"
  held_until = "none"
}

case "myanmar marketing without the phones" {
  to        = "+959250123456"
  kind      = "marketing"
  unhealthy = ["android-mm"]
  route     = "mm-marketing"
  plan      = ["smpp-asia-2", "smpp-asia-1"]
}

case "germany least cost" {
  to    = "+4915123456789"
  route = "eu"
  plan  = ["smpp-eu-2", "smpp-eu-1"]
}

case "germany skips a failing link" {
  to           = "+4915123456789"
  success_rate = { smpp-eu-2 = 0.5 }
  route        = "eu"
  plan         = ["smpp-eu-1"]
}

case "united states" {
  to     = "+14155552671"
  sender = "+14155550100"
  route  = "us"
  plan   = ["twilio-us", "aggregator"]
}

case "anywhere else" {
  to    = "+819012345678"
  tags  = { campaign = "winter" }
  route = "default"
  plan  = ["aggregator"]
}
