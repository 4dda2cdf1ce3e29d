server {
  listen     = env("SMSROUTER_LISTEN")
  public_url = env("A", "b", "c")
}

database {
  driver = "postgres"
  dsn    = env("SMSROUTER_DATABASE_DSN")
}

provider "a" {
  plugin = "sandbox"
  config = {
    token = env("A_TOKEN")
    user  = var.user
  }
}

route "default" {
  default    = true
  candidates = ["a"]
}
