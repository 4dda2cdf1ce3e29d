# An example production configuration: PostgreSQL, real provider kinds and
# routing rules. docs/routing.md explains every routing variable, function
# and strategy used here.
#
# Relative paths are resolved from this file's directory. env("NAME") reads an
# environment variable and fails with this file's line and column when it is
# unset; env("NAME", "fallback") gives a default instead.
#
# Check it before deploying:  smsrouter config validate --config FILE
# Ask where a message goes:   smsrouter route explain --config FILE --to +959791234567 --text "Your code is 123456" --kind otp
# Apply rule changes live:    kill -HUP <pid>, or POST /api/v1/admin/reload

server {
  listen     = "0.0.0.0:3005"
  # How providers and phones reach this server for delivery reports.
  public_url = env("SMSROUTER_PUBLIC_URL", "https://sms.example.com")
  # "all" (the default): accept, send, poll statuses and deliver webhooks.
  # "api": accept and answer the API only, leaving the rest to the servers
  # with role "all" on the same database; add API servers where requests,
  # not sending, need the CPU.
  role = env("SMSROUTER_ROLE", "all")
  # Slow clients and connections per client address: the defaults are
  # shown; see "Connections and TLS" in docs/api.md. A load balancer in
  # front must be listed in trusted_proxies.
  # read_timeout         = "30s"
  # max_conns_per_client = 128
  # trusted_proxies      = ["127.0.0.0/8", "::1/128", "10.0.0.0/8"]
  # Without a reverse proxy, serve HTTPS here (re-read on SIGHUP):
  # tls {
  #   cert_file = "/etc/smsrouter/tls/fullchain.pem"
  #   key_file  = "/etc/smsrouter/tls/privkey.pem"
  # }
  # Prometheus metrics (docs/metrics.md), here kept off the public listener.
  metrics {
    listen       = "127.0.0.1:9105"
    bearer_token = env("SMSROUTER_METRICS_TOKEN", "")
  }
}

database {
  driver = "postgres"
  # e.g. postgres://smsrouter:secret@db.internal:5432/smsrouter?sslmode=require
  dsn = env("SMSROUTER_DATABASE_DSN")
}

# Message texts and webhook secrets are sealed at rest with a secret key
# ("Secrets at rest" in docs/architecture.md). Give every server the same
# keys in SMSROUTER_SECRET_KEY (base64, newest first, comma separated; make
# one with `smsrouter secrets new-key`). Without it a server makes its own
# key file (data/smsrouter.key next to this file), and a server with another
# key refuses to start on this database. A key file instead:
#   secrets {
#     key_file = "/etc/smsrouter/smsrouter.key"
#   }

# Several servers may share this database; they share the sending. A server
# that dies holds the messages it was sending until their lease runs out;
# then another server sends them (again: see "Delivery guarantees" in
# docs/architecture.md). The lease must exceed send_timeout; these are the
# defaults.
dispatch {
  send_timeout = "60s"
  lease        = "130s"
}

# Every ten minutes each server deletes what nothing needs any more, in
# small chunks (several servers may do it at once): rate windows and OTP
# codes a day after they stop counting, expired idempotency keys, and,
# after these retentions (the defaults), webhook deliveries that were
# delivered or given up, with their attempts, and the ids of provider
# events kept to drop re-emitted ones. Messages, their status history,
# inbound messages and the credit ledger are never deleted.
retention {
  webhooks  = "720h"
  event_ids = "720h"
}

# Webhooks (the account URL and per-message callback_url) go only to public
# addresses: never loopback, private, link-local, unique-local, multicast,
# reserved or cloud metadata (169.254.169.254) addresses, so that a tenant
# cannot make this server call what only it can reach. A URL naming such an
# address is refused with 422 when set, and every host is checked again
# against the addresses it resolves to when a webhook connects. List here the
# networks where trusted applications run (CIDR, or single addresses);
# allow_private = true allows every address, for tests only. Read at start.
webhooks {
  allowed_networks = [] # e.g. ["10.20.0.0/16", "fd12:3456::/48"]
  allow_private    = false
}

routing {
  # hour and weekday in rules are local to this zone.
  timezone = "Asia/Yangon"
  # Costs and balances are compared in USD; providers billing in another
  # currency are converted at these rates (1 EUR = 1.08 USD).
  currency   = "USD"
  conversion = { EUR = 1.08 }
  # Ported numbers and ranges libphonenumber does not know yet; the longest
  # matching prefix wins. Large lists can live in a CSV file instead:
  # operator_prefixes = "operator-prefixes.csv" (columns prefix,operator).
  operator_prefixes = {
    "+95979" = "Telenor" # ATOM (ex-Telenor) range, still billed as Telenor
  }
  # Messages with the route each must get; `smsrouter config validate` runs
  # them and fails when a rule change breaks one (docs/routing.md).
  cases = "production.cases.hcl"
}

# Accounts are charged the price of their route's first provider (the
# pricing blocks below) times the segments, in the routing currency, and
# refunded when a message fails before any provider took it (docs/api.md,
# "Credit"). Here new accounts are prepaid: a send their balance does not
# cover is refused with 402. Top up with `smsrouter accounts credit NAME 50`;
# `smsrouter accounts limit NAME none` exempts an account.
api {
  credit_limit = 0 # new accounts: prepaid (leave out: never refused, postpaid)
  low_balance  = 5 # balance.low webhook when a charge takes a balance below 5 USD
}

# Android phones running the SMS Gateway for Android app in private-server
# mode, with local SIMs on an unlimited bundle: free per message, but slow
# (25 a minute per phone) and only as available as the phones. In the app
# type {public_url}/api/v1/providers/android-mm/hooks/mobile/v1 and the
# private token (configs/android.example.hcl has every setting). While no
# phone is online the provider is unhealthy and routes fail over.
provider "android-mm" {
  plugin = "android"
  config = {
    private_token = env("ANDROID_PRIVATE_TOKEN", "")
    state_file    = "/var/lib/smsrouter/android-mm-phones.json"
  }
  pricing {
    default = 0
  }
}

# GSM modems on this machine's serial ports are the built-in plugin = "modem"
# (see configs/modem.example.hcl for a pool of USB modems).

# Two SMPP links into Myanmar and South-East Asia.
provider "smpp-asia-1" {
  plugin = "smpp"
  config = {
    host      = "smpp1.asia.example.net"
    port      = 2775
    system_id = "acme"
    password  = env("SMPP_ASIA_1_PASSWORD", "")
  }
  pricing {
    rates = "rates/smpp-asia-1.csv" # per country and operator
  }
  limits {
    tps = 50
  }
}

provider "smpp-asia-2" {
  plugin = "smpp"
  config = {
    host      = "smpp.asia2.example.com"
    port      = 2775
    system_id = "acme"
    password  = env("SMPP_ASIA_2_PASSWORD", "")
  }
  pricing {
    default   = 0.05
    countries = { MM = 0.030, TH = 0.024 }
  }
  limits {
    tps = 30
  }
}

# Two SMPP links into Europe; the second bills in EUR.
provider "smpp-eu-1" {
  plugin = "smpp"
  config = {
    host      = "smpp.eu1.example.com"
    port      = 2775
    system_id = "acme"
    password  = env("SMPP_EU_1_PASSWORD", "")
  }
  pricing {
    default   = 0.09
    countries = { DE = 0.072, FR = 0.060, IT = 0.058, ES = 0.049, NL = 0.081 }
  }
  limits {
    tps         = 100
    concurrency = 4
  }
}

provider "smpp-eu-2" {
  plugin = "smpp"
  config = {
    host      = "smpp.eu2.example.org"
    port      = 2775
    system_id = "acme"
    password  = env("SMPP_EU_2_PASSWORD", "")
  }
  pricing {
    currency  = "EUR"
    default   = 0.085
    countries = { DE = 0.062, FR = 0.058, IT = 0.061, ES = 0.047, NL = 0.070 }
  }
}

# A Twilio-style REST provider for the United States.
provider "twilio-us" {
  plugin = "twilio"
  config = {
    account_sid = env("TWILIO_ACCOUNT_SID", "")
    auth_token  = env("TWILIO_AUTH_TOKEN", "")
    from        = "+14155550100"
  }
  pricing {
    countries = { US = 0.0079, CA = 0.0085 }
  }
  # Asks Twilio about messages without a report 15 minutes on (the default for
  # plugins that answer status queries; "off" never asks).
  poll_status_after = "15m"
}

# An HTTP aggregator that reaches every country, at a price.
provider "aggregator" {
  plugin = "httpapi"
  config = {
    preset   = "aggregator002"
    base_url = "https://api.aggregator.example"
    auth     = { type = "bearer", token = env("AGGREGATOR_TOKEN", "") }
  }
  pricing {
    default   = 0.06
    countries = { US = 0.011, MM = 0.045, TH = 0.03 }
  }
  poll_status_after = "30s"
}

# An external plugin: any binary built against the smsrouter sdk package
# (examples/plugins/echo is a complete one). The host refuses to start it if
# its SHA-256 differs from the pin. Build it, pin it with
# `sha256sum bin/acme-plugin`, then uncomment this block and add "acme" to a
# route's candidates:
#
# provider "acme" {
#   path   = "./bin/acme-plugin"
#   sha256 = "<the binary's SHA-256>"
#   config = {
#     api_key = env("ACME_API_KEY")
#   }
# }

# Routes are tried in order; the first that matches and keeps a candidate
# takes the message. Its candidates, ordered by the strategy, are the plan:
# the dispatcher tries the first and fails over down the list.

# Myanmar OTP: the cheapest healthy SMPP link whose balance covers the
# message, the aggregator last (a code must arrive even when both links are
# down). A provider that has not reported a balance yet is not dropped.
route "mm-otp" {
  match      = "country == 'MM' && kind == 'otp'"
  candidates = ["smpp-asia-1", "smpp-asia-2", "aggregator"]
  filter     = "healthy && (!has_balance || balance >= cost)"
  strategy   = "least_cost"
}

# Myanmar marketing: the phones while one is online (they cost nothing, so
# least_cost puts them first), else the cheapest SMPP link. No marketing at
# night: a message accepted from 21:00 waits, queued, until 06:00 Yangon time
# ("held for quiet hours until 06:00 Asia/Yangon" in its status).
route "mm-marketing" {
  match      = "country == 'MM' && kind == 'marketing'"
  candidates = ["android-mm", "smpp-asia-1", "smpp-asia-2"]
  filter     = "healthy"
  strategy   = "least_cost"
  quiet_hours {
    from = "21:00"
    to   = "06:00"
    zone = "Asia/Yangon"
  }
}

# Other Myanmar traffic: the cheapest SMPP link for the number's operator.
route "mm" {
  match      = "country == 'MM'"
  candidates = ["smpp-asia-1", "smpp-asia-2"]
  filter     = "healthy && (!has_balance || balance >= cost)"
  strategy   = "least_cost"
}

# The EU: least cost across two SMPP links, skipping one that is failing.
route "eu" {
  match      = "country in ['DE', 'FR', 'IT', 'ES', 'NL', 'AT', 'BE', 'PL', 'PT', 'SE']"
  candidates = ["smpp-eu-1", "smpp-eu-2"]
  filter     = "healthy && success_rate >= 0.8"
  strategy   = "least_cost"
}

# The United States through the Twilio-style provider, the aggregator behind.
route "us" {
  match      = "country == 'US'"
  candidates = ["twilio-us", "aggregator"]
}

# Everything else to the HTTP aggregator.
route "default" {
  default    = true
  candidates = ["aggregator"]
}

# Messages handsets send to our numbers (docs/numbers.md): a leased number's
# messages are its holder's; these rules decide for the rest. Replies to the
# US sender number go to the support account, without looking for codes.
inbound "us-replies" {
  match       = "to == '+14155550100'"
  account     = "support"
  extract_otp = false
}
