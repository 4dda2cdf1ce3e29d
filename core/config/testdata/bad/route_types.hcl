provider "a" {
  plugin = "sandbox"
}

route "default" {
  default    = "yes please"
  candidates = "a"
}
