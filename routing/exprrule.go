package routing

import (
	"errors"
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
)

// CompileExpr compiles r as a boolean rule over env's variables with the
// functions routes have (prefix, between, expr's own), for rule sets other
// than routes written in the same language, such as the inbound blocks.
// vars are env's variable names, for a did-you-mean hint; what names the
// rule in errors ("inbound \"otp\" match"). A rule that does not compile
// gives a diagnostic pointing inside the expression, as route rules do.
func CompileExpr(r Rule, env any, vars []string, what string) (*vm.Program, *hcl.Diagnostic) {
	opts := append([]expr.Option{expr.Env(env), expr.AsBool()}, functions...)
	prog, err := expr.Compile(r.Source, opts...)
	if err == nil {
		return prog, nil
	}
	rng, msg := r.Range, err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		rng, msg = r.pos(fe.From), fe.Message
	}
	if m := unknownName.FindStringSubmatch(msg); m != nil {
		if best := closest(m[1], vars); best != "" {
			msg += "; did you mean `" + best + "`?"
		}
	}
	return nil, errorAt(rng, "Invalid rule", fmt.Sprintf("%s: %s", what, msg))
}

// RunError is err, a rule's run-time failure, as one line naming where in
// the configuration r's failing operation is written.
func RunError(r Rule, err error) error {
	return (&rule{at: r}).runError(err)
}
