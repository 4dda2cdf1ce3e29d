provider "a" {
  plugin = "sandbox"
}

provider "b" {
  plugin = "sandbox"
}

route "first" {
  default    = true
  candidates = ["a", "c"]
}

route "myanmar" {
  candidates = ["b", "b"]
}

route "first" {
  default    = true
  candidates = []
}
