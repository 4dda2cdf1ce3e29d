database {
  driver = "mysql"
  dsn    = "root@tcp(127.0.0.1)/sms"
}

database {
  driver = "sqlite"
}

provider "a" {
  plugin = "sandbox"
}

route "default" {
  default    = true
  candidates = ["a"]
}
