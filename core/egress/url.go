package egress

import (
	"errors"
	"fmt"
	"net/url"
)

// CheckURL returns why raw cannot receive webhooks, or nil: it must be an
// absolute http or https URL with a host, carry no credentials (they would
// show in logs and the API), and not point to an address allowed refuses
// (nil allows public addresses only). Only addresses written in the URL
// and localhost names are known here; a host name is checked against the
// addresses it resolves to each time a webhook is sent.
func CheckURL(raw string, allowed *Policy) error {
	if len(raw) > 2048 {
		return fmt.Errorf("is %d characters long; the limit is 2048", len(raw))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: %v", raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q must start with https:// (or http://)", raw)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host", raw)
	case u.User != nil:
		return fmt.Errorf("must not carry a user name or password; authenticate webhooks by their X-Signature")
	case u.Fragment != "":
		return fmt.Errorf("%q must not have a #fragment", raw)
	}
	var refused *RefusedError
	if err := allowed.CheckHost(u.Hostname()); errors.As(err, &refused) {
		where := refused.Addr.String()
		if refused.Host != where {
			where = fmt.Sprintf("%s (%s)", refused.Host, where)
		}
		return fmt.Errorf("must not point to %s, %s: %s", where, Describe(refused.Addr), NotPublic)
	}
	return nil
}

// NotPublic ends every refusal of an address, for the application's
// developer, who cannot change the config, and for the operator, who can.
const NotPublic = "this server sends webhooks to public addresses only, unless its operator allows the network " +
	"(webhooks { allowed_networks = [...] } in the server's config)"
