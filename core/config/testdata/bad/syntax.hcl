provider "sandbox" {
  plugin = "sandbox"

route "default" {
  default = true
}
