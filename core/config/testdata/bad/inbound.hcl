provider "a" {
  plugin = "sandbox"
}

route "default" {
  default    = true
  candidates = ["a"]
}

inbound "typo" {
  match   = "keywrd == 'STOP' && from == '+15550100'"
  account = "acme"
}

inbound "type-error" {
  match   = <<-EOT
    provider == 'a' &&
      held > 'yes'
  EOT
  account = "acme"
}

inbound "nothing" {
  match = "true"
}

inbound "maybe" {
  match       = "true"
  extract_otp = "maybe"
}

inbound "type-error" {
  match       = "true"
  extract_otp = true
}

inbound "loopback" {
  match   = "true"
  webhook = "http://127.0.0.1:8080/hook"
}

inbound "no-match" {
  account = "acme"
}

inbound "empty-account" {
  match   = "true"
  account = ""
}
