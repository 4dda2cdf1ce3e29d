servr {
  listen = "127.0.0.1:3005"
}

server {
  listen = "127.0.0.1:3005"
  port   = 3005
}

provider "sandbox" {
  plugn = "sandbox"
}

route "default" {
  default    = true
  candidates = ["sandbox"]
  stratgy    = "priority"
}
