# Wrong in three places; each must be reported as file:line:column.
server {
  listen = "localhost"
}

provider "sms1" {
  plugin = "carrier-pigeon"
}

route "default" {
  default    = true
  candidates = ["sms1", "nosuch"]
}
