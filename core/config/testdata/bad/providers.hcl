provider "neither" {
  config = {}
}

provider "both" {
  plugin = "sandbox"
  path   = "../bin/plugin"
}

provider "unknown-kind" {
  plugin = "smtp"
}

provider "missing" {
  path = "../bin/nope"
}

provider "notexec" {
  path = "../bin/notexec"
}

provider "dir" {
  path = "../bin/adir"
}

provider "badsum" {
  path   = "../bin/plugin"
  sha256 = "abc123"
}

provider "builtin-sum" {
  plugin = "sandbox"
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
}

provider "list-config" {
  plugin = "sandbox"
  config = ["a", "b"]
}

provider "string-config" {
  plugin = "sandbox"
  config = "{\"a\": 1}"
}

provider "both" {
  plugin = "sandbox"
}

provider "bad name!" {
  plugin = "sandbox"
}

route "default" {
  default    = true
  candidates = ["neither", "both", "unknown-kind", "missing", "notexec", "dir", "badsum", "builtin-sum", "list-config", "string-config"]
}
