database {
  driver = "postgres"
  path   = "./data/smsrouter.db"
}

provider "a" {
  plugin = "sandbox"
}

route "default" {
  default    = true
  candidates = ["a"]
}
