provider "sandbox" {
  plugin = "sandbox"
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
otp {
  length   = 3
  ttl      = "soon"
  template = "no code here"
  extract {
    sender  = "AcmeBank"
    pattern = "PIN ([0-9]{4}"
  }
  extract {
    pattern = "(PIN|code) ([0-9]+)"
  }
  extract {
    sender = "NoPattern"
  }
}
api {
  sms_per_minute   = 1.5
  duplicate_window = "-1m"
  max_segments     = 0
  sender_ids       = ["", "ThisSenderIsWayTooLong"]
  currency         = "euro"
  max_validity     = "5s"
  default_validity = "96h"
  max_schedule_ahead = "soon"
}
