server {
  role = "worker"
}

provider "a" {
  plugin = "sandbox"
}

route "default" {
  candidates = ["a"]
  default    = true
}
