provider "a" {
  plugin = "sandbox"
  pricing {
    rates = "rates/many_bad_rows.csv"
  }
}
route "default" {
  default    = true
  candidates = ["a"]
}
