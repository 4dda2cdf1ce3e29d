# A small, valid configuration: `config validate` only reads it, so the
# database it names is never created.
server {
  listen = "127.0.0.1:3005"
}

database {
  driver = "sqlite"
  path   = "./data/never-created.db"
}

provider "sandbox" {
  plugin = "sandbox"
  config = {
    dlr_delay = "1s"
  }
}

route "default" {
  default    = true
  candidates = ["sandbox"]
}
