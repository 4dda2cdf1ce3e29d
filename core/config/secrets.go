package config

import (
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/smsrouter/smsrouter/core/seal"
)

// EnvSecretKey names the environment variable that gives the server its
// secret keys (base64, newest first, comma separated); when set it takes
// the place of the secrets block's keys and key file.
const EnvSecretKey = "SMSROUTER_SECRET_KEY"

// KeyFileName is the key file's name in its default directory.
const KeyFileName = "smsrouter.key"

// Secrets is the secrets block: the keys that seal message texts and
// webhook secrets at rest. Without keys the server reads KeyFile, and
// creates it if missing.
type Secrets struct {
	// Keys are the keys the file gives (keys = [env("…")]), newest first;
	// nil when it gives none.
	Keys []seal.Key
	// KeyFile is the key file's absolute path. It defaults to
	// smsrouter.key next to the SQLite database, and for PostgreSQL (or an
	// in-memory SQLite database) to data/smsrouter.key next to the config
	// file.
	KeyFile string
}

var secretsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "keys"}, {Name: "key_file"}}}

func (d *decoder) secrets(b *hcl.Block, s *Secrets) {
	content, diags := b.Body.Content(secretsSchema)
	d.diags = append(d.diags, diags...)
	if a := content.Attributes["key_file"]; a != nil {
		if v, ok := d.str(a); ok {
			if strings.TrimSpace(v) == "" {
				d.errorf(a.Expr.Range(), "Empty key_file", "give the key file's path, such as %q, or leave key_file out", "./data/"+KeyFileName)
			} else {
				s.KeyFile = d.resolve(v)
			}
		}
	}
	a := content.Attributes["keys"]
	if a == nil {
		return
	}
	v, ok := d.value(a.Expr, cty.List(cty.String))
	if !ok {
		return
	}
	if v.LengthInt() == 0 {
		d.errorf(a.Expr.Range(), "No keys", "keys lists the secret keys newest first, e.g. keys = [env(%q)]; leave it out to use the key file", EnvSecretKey)
		return
	}
	for i, k := range v.AsValueSlice() {
		// Never quoted: the value is a secret.
		key, err := seal.ParseKey(k.AsString())
		if err != nil {
			d.errorf(a.Expr.Range(), "Invalid secret key", "key %d: %v", i+1, err)
			continue
		}
		s.Keys = append(s.Keys, key)
	}
}

// defaultKeyFile is where the key file goes when the secrets block does
// not say: beside the SQLite database, or beside the config file.
func (d *decoder) defaultKeyFile(db Database) string {
	if db.Driver == DriverSQLite && db.DSN != ":memory:" && !strings.HasPrefix(db.DSN, "file:") {
		return filepath.Join(filepath.Dir(db.DSN), KeyFileName)
	}
	return d.resolve(filepath.Join("data", KeyFileName))
}
