server {
  listen = "127.0.0.1:3005"
  metrics {
    enabled       = "sometimes"
    listen        = "9105"
    bearer_token  = "abc def"
    db_refresh    = "10ms"
    count_refresh = "1s"
  }
  metrics {
    listen = "127.0.0.1:3005"
  }
}

provider "a" {
  plugin = "sandbox"
}

route "default" {
  default    = true
  candidates = ["a"]
}
