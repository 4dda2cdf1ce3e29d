provider "a" {
  plugin = "sandbox"
}

route "typo" {
  match      = "operater == 'Telenor'"
  candidates = ["a"]
}

route "filter-only-in-match" {
  match      = "country == 'MM' && healthy"
  candidates = ["a"]
}

route "between-wrong" {
  match      = "between(hour, 22)"
  candidates = ["a"]
}

route "between-types" {
  match      = "between(hour, '22', 6)"
  candidates = ["a"]
}

route "default" {
  default    = true
  candidates = ["a"]
}
