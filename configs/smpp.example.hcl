# An example configuration for SMPP 3.4 links: a transceiver link to one
# operator and a TLS link to a wholesale carrier that offers transmitter +
# receiver pairs, with failover between them.
#
# Receipts and inbound messages arrive on the SMPP connection itself, so no
# public URL is needed for them. Credentials come from the environment:
# env("NAME") fails with this file's line and column when NAME is unset.
#
# Try it locally against the simulator:  go run ./examples/smsc -listen 127.0.0.1:2776
# Check it before deploying:             smsrouter config validate --config FILE

server {
  listen = "0.0.0.0:3005"
}

database {
  driver = "postgres"
  dsn    = env("SMSROUTER_DATABASE_DSN")
}

provider "smpp-operator" {
  plugin = "smpp"
  config = {
    host      = env("SMPP_OPERATOR_HOST", "127.0.0.1")
    port      = 2776
    system_id = env("SMPP_OPERATOR_SYSTEM_ID", "demo")
    password  = env("SMPP_OPERATOR_PASSWORD") # SMPP 3.4 allows at most 8 characters
    binds     = 2     # the operator allows two transceiver binds
    window    = 50    # submits in flight per bind
    tps       = 200   # the account's contracted rate, across both binds
    # This SMSC answers submit_sm_resp ids in hex and writes receipt ids in decimal.
    resp_id_format    = "hex"
    receipt_id_format = "dec"
    long_message      = "udh"
    default_sender    = "ACME"
    # Inbound numbers this SMSC writes in national form (TON 0 or 2) are
    # Russian; they are stored in E.164 (+7…).
    country = "RU"
    # A deliver_sm with the same content within this window is taken for a
    # redelivery (its answer was lost); after it, for a new message: a handset
    # that sends "YES" twice is heard twice. Default "10m".
    duplicate_window = "10m"
  }
}

provider "smpp-carrier" {
  plugin = "smpp"
  config = {
    host             = "smpp.carrier.example"
    port             = 3550
    tls              = true
    system_id        = env("SMPP_CARRIER_SYSTEM_ID", "acme")
    password         = env("SMPP_CARRIER_PASSWORD")
    bind_mode        = "transmitter_receiver"
    window           = 100
    enquire_link     = "45s"
    response_timeout = "15s"
    long_message     = "sar" # the carrier builds the UDH itself
    # Each message's validity goes out as submit_sm validity_period ("relative",
    # the default); this SMSC only takes absolute times. "none" for SMSCs that
    # answer ESME_RINVEXPIRY.
    validity_period  = "absolute"
  }
}

route "default" {
  default    = true
  candidates = ["smpp-operator", "smpp-carrier"]
}
