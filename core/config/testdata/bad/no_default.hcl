provider "a" {
  plugin = "sandbox"
}

route "main" {
  candidates = ["a"]
}
