# An example configuration for Android phones running the "SMS Gateway for
# Android" app (sms-gate.app) in private-server mode, with an SMPP link to
# fail over to while no phone is online.
#
# In the app: Settings → Cloud/private server, then
#   server URL     {public_url}/api/v1/providers/android-ygn/hooks/mobile/v1
#   private token  the value of ANDROID_PRIVATE_TOKEN
# The app accepts plain HTTP only to 127.0.0.1, so a real phone needs HTTPS:
# the tls block below, or a reverse proxy in front (which must not buffer the
# event stream the phones hold open).
#
# Check it before deploying:  smsrouter config validate --config FILE

server {
  listen     = "0.0.0.0:3005"
  public_url = env("SMSROUTER_PUBLIC_URL", "https://sms.example.com")
  # tls {
  #   cert_file = "/etc/smsrouter/tls/fullchain.pem"
  #   key_file  = "/etc/smsrouter/tls/privkey.pem"
  # }
}

database {
  driver = "postgres"
  dsn    = env("SMSROUTER_DATABASE_DSN")
}

provider "android-ygn" {
  plugin = "android"
  config = {
    # Phones register with this token; make one with `openssl rand -hex 24`.
    private_token = env("ANDROID_PRIVATE_TOKEN")
    # Keeps the registered phones (hashed device tokens, never the tokens)
    # across restarts; without it phones register again after one.
    state_file = "/var/lib/smsrouter/android-ygn-phones.json"
    # GET/DELETE .../hooks/admin/devices with this Bearer token lists the
    # phones and revokes one; without it those calls are off.
    # admin_token = env("ANDROID_ADMIN_TOKEN")

    # "queue" (the default): with no phone online a message waits up to the
    # lease, then stays pending ("No gateway online") and is sent once a
    # phone connects. "refuse": answered "No gateway online" at once.
    when_offline = "queue"
    lease        = "30s" # a phone must take a message within this, or it goes elsewhere

    # Android asks the user before an app sends more than 30 SMS a minute;
    # an unattended phone then sends nothing. Stay below it.
    rate_limit  = 25
    rate_period = "60s"

    # What the app cannot report: each phone's SIM numbers and which
    # destinations each SIM should take (longest prefix wins).
    phones = [
      {
        name = "ygn-1" # the device name set in the app
        sims = [
          { slot = 1, number = "+959790000001", operator = "ATOM", country = "MM", prefixes = ["+95979", "+95976"] },
          { slot = 2, number = "+959250000001", operator = "MPT", country = "MM", prefixes = ["+95925", "+95942"] },
        ]
      },
    ]
  }
  pricing {
    default = 0
  }
}

provider "smpp-asia" {
  plugin = "smpp"
  config = {
    host      = "smpp.asia.example.net"
    port      = 2775
    system_id = "acme"
    password  = env("SMPP_PASSWORD", "")
  }
}

# Phones first (free on a bundle); the SMPP link while no phone is online.
route "default" {
  default    = true
  candidates = ["android-ygn", "smpp-asia"]
}
