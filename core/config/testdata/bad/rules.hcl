provider "a" {
  plugin = "sandbox"
}

route "unknown-variable" {
  match      = "country == 'MM' && knd == 'otp'"
  candidates = ["a"]
}

route "type-error" {
  match      = "segments == 'two'"
  candidates = ["a"]
  filter     = "cost > 'cheap'"
}

route "heredoc" {
  match      = <<-EOT
    country == 'MM' &&
      hour >= 'nine'
  EOT
  candidates = ["a"]
}

route "escaped" {
  match      = "sender == \"ACME\" && nope"
  candidates = ["a"]
}

route "not-bool" {
  match      = "country"
  candidates = ["a"]
}

route "syntax" {
  match      = "country == 'MM' &&"
  candidates = ["a"]
  strategy   = "cheapest"
}

route "weights" {
  match      = "kind == 'otp'"
  candidates = ["a"]
  weights    = { a = 1, b = 2 }
}

route "default" {
  default    = true
  match      = "true"
  candidates = ["a"]
  strategy   = "weighted"
}
