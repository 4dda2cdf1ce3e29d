# An example configuration for GSM modems: a pool of USB modems on one
# machine, each with a SIM, sending and receiving through AT commands in PDU
# mode. Every port of a provider is a member of its pool; messages go to the
# least busy registered port.
#
# Ports: use the stable /dev/serial/by-id/ names (ttyUSB numbers change when
# a modem is re-plugged); a USB modem exposes several ttys and only one of
# them answers AT commands (often the one ending -if00 or -if02). The user
# smsrouter runs as needs read/write access to them (the "dialout" group on
# Debian), and ModemManager must leave them alone (stop it, or mark the
# devices ID_MM_DEVICE_IGNORE in a udev rule).
#
# Check it before deploying:  smsrouter config validate --config FILE

server {
  listen = "0.0.0.0:3005"
}

database {
  driver = "postgres"
  dsn    = env("SMSROUTER_DATABASE_DSN")
}

provider "modems" {
  plugin = "modem"
  config = {
    ports = [
      # Every modem of a USB hub that matches; expanded at start.
      "/dev/serial/by-id/usb-HUAWEI_Technology_HUAWEI_Mobile-if00-port0",
      # A modem whose SIM has a PIN, a number the SIM does not know, and a
      # daily allowance.
      {
        path        = "/dev/serial/by-id/usb-SimTech_SIM7600-if02-port0"
        pin         = env("MODEM_SIM2_PIN")   # 4-8 digits, tried once only
        number      = "+4790000002"           # the "to" of inbound messages
        max_per_day = 500
      },
    ]
    baud          = 115200 # USB modems ignore it
    send_interval = "3s"   # per port: a modem takes seconds per SMS anyway
    # Numbers under these prefixes go out on a SIM of the same operator when
    # one is ready (on-net is cheaper); a message whose metadata says
    # modem_operator = "Telia" goes only to a Telia SIM.
    operator_prefixes = { "+4790" = "Telenor", "+4792" = "Telia" }
    # Inbound long messages: parts missing after this are delivered as they are.
    reassembly_timeout = "5m"
    # Keeps the messages waiting for status reports (for report_window), so
    # reports that come after a restart are still matched. Absolute path;
    # the file is created at the first message sent.
    state_file    = "/var/lib/smsrouter/modems.reports"
    report_window = "72h"
  }
  limits {
    concurrency = 2
  }
}

route "default" {
  default    = true
  candidates = ["modems"]
}

# The ports' numbers join the numbers inventory (docs/numbers.md). A message
# to a number nobody leases belongs to the account an inbound rule names;
# without one it is kept for admins only.
inbound "modems" {
  match   = "provider == 'modems'"
  account = "default"
}
