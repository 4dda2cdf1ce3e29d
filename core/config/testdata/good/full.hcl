server {
  listen     = "0.0.0.0:8080"
  public_url = "https://sms.example.com/"
}

database {
  driver = "sqlite"
  path   = "../var/sms.db"
}

provider "smpp-eu-1" {
  plugin = "smpp"
  config = {
    host     = env("SMPP_HOST", "127.0.0.1")
    port     = 2775
    password = env("SMPP_PASSWORD")
    window   = { size = 10, timeout = "10s" }
    tags     = ["eu", "bulk"]
  }
}

provider "ext_1" {
  path   = "../bin/plugin"
  sha256 = "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"
}

route "default" {
  default    = true
  candidates = ["smpp-eu-1", "ext_1"]
}
