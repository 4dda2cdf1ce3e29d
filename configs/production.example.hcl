# An example production configuration: PostgreSQL, two providers with
# failover, and an external plugin binary pinned by its SHA-256.
#
# Relative paths are resolved from this file's directory. env("NAME") reads an
# environment variable and fails with this file's line and column when it is
# unset; env("NAME", "fallback") gives a default instead.
#
# Check it before deploying:  smsrouter config validate --config FILE

server {
  listen     = "0.0.0.0:3005"
  # How providers and phones reach this server for delivery reports.
  public_url = env("SMSROUTER_PUBLIC_URL", "https://sms.example.com")
}

database {
  driver = "postgres"
  # e.g. postgres://smsrouter:secret@db.internal:5432/smsrouter?sslmode=require
  dsn = env("SMSROUTER_DATABASE_DSN")
}

# Built-in plugins ship inside the smsrouter binary; this one simulates an
# upstream that is fast and reliable.
provider "primary" {
  plugin = "sandbox"
  config = {
    accept_latency = "20ms"
    dlr_delay      = "2s"
    delivery_ratio = 0.98
    failure_ratio  = 0
    balance        = { amount = 500, currency = "USD" }
    sender_ids     = ["ACME", "+14155550100"]
    seed           = 7
  }
}

# A second upstream that fails now and then, so failover has work to do.
provider "backup" {
  plugin = "sandbox"
  config = {
    accept_latency = "80ms"
    dlr_delay      = "5s"
    delivery_ratio = 0.95
    failure_ratio  = 0.02
    balance        = { amount = 50, currency = "EUR" }
    sender_ids     = ["ACME"]
    seed           = 11
  }
}

# An external plugin: any binary built against the smsrouter sdk package.
# The host refuses to start it if its SHA-256 differs from the pin
# (compute it with `sha256sum bin/acme-plugin`).
provider "acme" {
  path   = "./bin/acme-plugin"
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  config = {
    api_key = env("ACME_API_KEY", "")
  }
}

# The default route catches every message; candidates are tried in order and
# the next one takes over when a provider is unavailable or fails temporarily.
route "default" {
  default    = true
  candidates = ["primary", "backup", "acme"]
}
