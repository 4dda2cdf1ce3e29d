# A misspelt smpp setting: config validate must point at line 12.
database {
  driver = "sqlite"
  path   = "./data/never-created.db"
}

provider "smsc-1" {
  plugin = "smpp"
  config = {
    host        = "smsc.example.net"
    system_id   = "acme"
    pasword     = "secret"
  }
}

route "default" {
  default    = true
  candidates = ["smsc-1"]
}
