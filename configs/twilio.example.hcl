# An example configuration for Twilio and Twilio-compatible APIs: one account
# used directly, one reached through a connector-style gateway that cannot
# sign its callbacks, and failover between them.
#
# Delivery reports and inbound messages arrive as HTTP callbacks, so the
# upstream must be able to reach public_url. Each provider's hooks live under
#   {public_url}/api/v1/providers/{name}/hooks/
#     status                  status callbacks (sent as StatusCallback with every message)
#     delivery-notification   status callbacks in the connector shape (MessageSid, SmsStatus)
#     receive                 inbound messages; point the number's "A message comes in"
#                             webhook here
#
# Secrets come from the environment: env("NAME") fails with this file's line
# and column when NAME is unset.
#
# Check it before deploying:  smsrouter config validate --config FILE

server {
  listen = "0.0.0.0:3005"
  # Twilio signs the exact URL it calls: scheme, host, port, path and query.
  # Behind a TLS proxy this must be the public https URL, not the local one.
  public_url = env("SMSROUTER_PUBLIC_URL", "https://sms.example.com")
}

database {
  driver = "postgres"
  dsn    = env("SMSROUTER_DATABASE_DSN")
}

provider "twilio-us" {
  plugin = "twilio"
  config = {
    account_sid = env("TWILIO_ACCOUNT_SID")
    auth_token  = env("TWILIO_AUTH_TOKEN") # also the key callbacks are signed with
    # While rotating the auth token, callbacks signed with the old one still pass:
    # secondary_auth_token = env("TWILIO_OLD_AUTH_TOKEN")

    # Either a default sender or a messaging service (or both).
    from                  = "+14155550100"
    messaging_service_sid = env("TWILIO_MESSAGING_SERVICE_SID", "")

    validity_period = "4h"  # the longest Twilio keeps trying (max 10h); a message's own shorter validity wins
    request_timeout = "10s" # per API request
    max_batch_size  = 20    # messages per Send call
    max_concurrency = 4     # API requests in flight per Send call

    # hook_auth defaults to "twilio_signature": a callback without a valid
    # X-Twilio-Signature is answered 403 and changes nothing.
  }
  # Twilio does not retry failed callbacks; ask for the status of messages
  # that have had no final report for this long.
  poll_status_after = "15m"
}

# A Twilio-compatible gateway that posts the connector shape and cannot sign
# its callbacks: it proves itself with a shared secret instead. The
# StatusCallback URL smsrouter hands it carries a token derived from the
# secret (".../hooks/status?token=..."), so reports posted back to that URL
# unchanged are accepted; the secret itself never appears in a URL. Hooks it
# is given by hand (/receive) send the secret as the X-Hook-Secret header or
# a "secret" query parameter.
provider "connector" {
  plugin = "twilio"
  config = {
    base_url    = "https://sms-gateway.example.net"
    account_sid = "connector"
    auth_token  = env("CONNECTOR_API_TOKEN")
    from        = "7522"
    hook_auth   = "shared_secret"
    hook_secret = env("CONNECTOR_HOOK_SECRET")
  }
}

route "default" {
  default    = true
  candidates = ["twilio-us", "connector"]
}
