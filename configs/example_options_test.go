package configs_test

import (
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/plugins/builtin"
)

// exampleOptions loads a shipped example as serve would, with the built-in
// plugins and env as the environment. The map is read at each lookup, so a
// test may change it between loads.
func exampleOptions(env map[string]string) config.Options {
	return config.Options{
		BuiltinKinds: builtin.Kinds(),
		LookupEnv:    func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	}
}
