server {
  listen               = "127.0.0.1:3005"
  read_header_timeout  = "0s"
  read_timeout         = "soon"
  max_conns_per_client = 0
  trusted_proxies      = ["10.0.0.0/8", "proxy.example"]
  tls {
    cert_file = "missing.pem"
  }
  tls {
    cert_file = "a.pem"
    key_file  = "b.pem"
  }
}

provider "a" {
  plugin = "sandbox"
}

route "default" {
  default    = true
  candidates = ["a"]
}
