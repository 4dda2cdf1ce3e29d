# Example: HTTP aggregators through the built-in httpapi plugin, configured
# entirely here (see docs/httpapi.md for every setting).
#
# Aggregators without delivery callbacks are polled: poll_status_after is
# how long after acceptance the host first asks for a message's status, and
# how long it waits between asks.
#
# Check it before deploying:  smsrouter config validate --config FILE

server {
  listen     = "0.0.0.0:3005"
  public_url = env("SMSROUTER_PUBLIC_URL", "https://sms.example.com")
}

database {
  driver = "postgres"
  dsn    = env("SMSROUTER_DATABASE_DSN")
}

# The regional aggregator's JSON API, from the built-in preset. Only what
# differs from the preset is written: where it lives, the key, the sender.
provider "aggregator" {
  plugin = "httpapi"
  config = {
    preset         = "aggregator002"
    base_url       = "https://api.aggregator.example"
    auth           = { type = "bearer", token = env("AGGREGATOR_TOKEN") }
    default_sender = "VashZakaz"
    cache_refresh  = "5m"
    # After a 429, every request of this provider waits for Retry-After (or a
    # backoff doubling per burst), never longer than this.
    max_throttle_wait = "1m"
    # Values templates may use: the preset adds integration_id to sends when set.
    vars = { integration_id = env("AGGREGATOR_INTEGRATION_ID", "") }
    # The account's send URL differs from the preset's; everything else stays.
    operations = {
      send = { url = "/api/v1/sms/send" }
    }
  }
  poll_status_after = "30s"
}

# The same aggregator's XML gateway, with the key in the query string.
provider "aggregator-xml" {
  plugin = "httpapi"
  config = {
    preset         = "aggregator002_xml"
    base_url       = "https://xml.aggregator.example"
    auth           = { type = "query", param = "key", token = env("AGGREGATOR_TOKEN") }
    default_sender = "VashZakaz"
    # This account also reports ACCEPTD; without this line it would be "unknown".
    status_map = { ACCEPTD = "sent" }
  }
  poll_status_after = "1m"
}

# A different JSON aggregator, onboarded by configuration alone: messages of
# any text in one request, answers matched by our message id, errors per
# message, status by GET with the ids in the query string.
provider "acme" {
  plugin = "httpapi"
  config = {
    base_url       = "https://api.acme-sms.example"
    auth           = { type = "header", header = "X-API-Key", token = env("ACME_API_KEY") }
    phone_format   = "e164"
    default_sender = "ACME"
    max_batch_size = 50
    errors         = { code = "error.code", message = "error.description" }
    status_map = {
      SENT      = "sent"
      DELIVERED = "delivered"
      FAILED    = "failed"
      EXPIRED   = "expired"
      BLOCKED   = "rejected"
    }
    http_status = { "409" = "duplicate" }
    operations = {
      send = {
        method   = "POST"
        url      = "/v2/sms"
        format   = "json"
        group_by = "none"
        match_by = "reference"
        body     = <<-EOT
          {"messages": [{{range $i, $m := .Messages}}{{if $i}}, {{end}}{"to": {{json $m.To}}, "from": {{json $m.From}}, "text": {{json $m.Text}}, "ref": {{json $m.ID}}{{if $m.ValiditySeconds}}, "ttl": {{$m.ValiditySeconds}}{{end}}}{{end}}]}
        EOT
        response = {
          items         = "results"
          id            = "message_id"
          reference     = "ref"
          error_code    = "error.code"
          error_message = "error.description"
        }
      }
      status = {
        method     = "GET"
        url        = "/v2/sms/status"
        format     = "none"
        batch_size = 50
        query      = { ids = "{{join .IDs \",\"}}" }
        response   = { format = "json", items = "statuses", id = "message_id", status = "state", error_code = "err" }
      }
      balance = {
        method   = "GET"
        url      = "/v2/account"
        format   = "none"
        response = { format = "json", amount = "account.credit", currency = "account.currency" }
      }
    }
  }
  poll_status_after = "30s"
}

# Cheapest first, the XML gateway and the second aggregator as failover.
route "default" {
  default    = true
  candidates = ["aggregator", "acme", "aggregator-xml"]
}
