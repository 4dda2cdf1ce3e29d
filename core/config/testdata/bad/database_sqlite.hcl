database {
  driver = "sqlite"
  dsn    = "file:x.db"
}

provider "a" {
  plugin = "sandbox"
}

route "default" {
  default    = true
  candidates = ["a"]
}
