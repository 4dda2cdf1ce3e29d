# smsrouter's built-in configuration: what `smsrouter serve` runs with when no
# config file is given. It needs nothing installed: the database is a SQLite
# file under ./data and the only provider is the sandbox, which accepts every
# message and reports it delivered about a second later without sending
# anything. Copy production.example.hcl to start a real deployment.

server {
  listen     = "127.0.0.1:3005"
  public_url = "http://127.0.0.1:3005"
}

database {
  driver = "sqlite"
  path   = "./data/smsrouter.db"
}
# Message texts and webhook secrets are sealed with a secret key: without
# SMSROUTER_SECRET_KEY or a secrets block, the first start creates
# ./data/smsrouter.key (mode 0600) next to the database. Back it up with it.

provider "sandbox" {
  plugin = "sandbox"
  config = {
    accept_latency = "20ms" # how long Send takes
    dlr_delay      = "1s"   # from accepted to the delivery report
    delivery_ratio = 1.0    # share of sent messages reported delivered
    failure_ratio  = 0      # share of sends that fail temporarily
    balance        = { amount = 100, currency = "USD" }
    sender_ids     = ["SANDBOX"]
    seed           = 1 # fixed, so simulated outcomes repeat run to run
  }
  # The sandbox costs nothing: every country at 0 per segment, which
  # GET /api/v1/countries shows as other_countries. Name countries (and
  # "CC/Operator" pairs) to try per-destination prices and credit.
  pricing {
    default = 0
  }
}

# Every message goes to the sandbox. Routes can match on country, operator,
# kind, time and more, and filter providers by cost, balance and health: see
# docs/routing.md, and production.example.hcl for real rules.
route "default" {
  default    = true
  candidates = ["sandbox"]
}

# Webhooks go only to public addresses. To try them with a receiver on this
# machine, allow loopback (docs/webhooks.md, "Where webhooks may go"):
# webhooks {
#   allowed_networks = ["127.0.0.0/8", "::1"]
# }
