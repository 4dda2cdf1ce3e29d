# Everything optional left out: server and database take their defaults.
provider "sandbox" {
  plugin = "sandbox"
}

route "default" {
  default    = true
  candidates = ["sandbox"]
}
