server {
  role = "api"
}

database {
  driver = "sqlite"
  path   = "sms.db"
}

provider "a" {
  plugin = "sandbox"
}

route "default" {
  candidates = ["a"]
  default    = true
}
