server {
  listen = ":3005"
  role   = "api"
}

database {
  driver = "postgres"
  dsn    = env("SMSROUTER_DATABASE_DSN")
}

provider "a" {
  plugin = "sandbox"
  config = {}
}

route "default" {
  candidates = ["a"]
  default    = true
}
