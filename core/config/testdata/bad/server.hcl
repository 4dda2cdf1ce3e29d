server {
  listen     = "localhost"
  public_url = "ftp://sms.example.com"
}

provider "a" {
  plugin = "sandbox"
}

route "default" {
  default    = true
  candidates = ["a"]
}
