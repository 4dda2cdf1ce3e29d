package config

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Console is the server block's console block: the web console at
// /console.
type Console struct {
	// SecureCookies marks the console's session cookie Secure even when the
	// request reached smsrouter over plain HTTP, as it does behind a
	// TLS-terminating proxy. Unset, it follows public_url: true when that
	// starts with https://. Requests that came over TLS always get a
	// Secure cookie.
	SecureCookies bool
	// secureCookiesSet records an explicit secure_cookies, which
	// public_url then does not override.
	secureCookiesSet bool
}

var consoleSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "secure_cookies"}}}

func (d *decoder) console(b *hcl.Block, c *Console) {
	content, diags := b.Body.Content(consoleSchema)
	d.diags = append(d.diags, diags...)
	if a := content.Attributes["secure_cookies"]; a != nil {
		if v, ok := d.boolean(a); ok {
			c.SecureCookies, c.secureCookiesSet = v, true
		}
	}
}

// settle derives what the console block left out from the server's
// public URL: a server reached over https marks its cookie Secure.
func (c *Console) settle(publicURL string) {
	if !c.secureCookiesSet {
		c.SecureCookies = strings.HasPrefix(publicURL, "https://")
	}
}
