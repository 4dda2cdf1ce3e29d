provider "a" {
  plugin = "sandbox"
}

route "double-quotes" {
  match      = "country == "MM""
  candidates = ["a"]
}

route "default" {
  default    = true
  candidates = ["a"]
}
