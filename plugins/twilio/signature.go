package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/smsrouter/smsrouter/sdk"
)

// Signature computes the X-Twilio-Signature of a form POST to fullURL: the
// URL exactly as requested (query included), then every POST parameter name
// and value in name order, HMAC-SHA1 keyed by the auth token, base64.
// Repeated names contribute every value, values in order; query parameters
// are not appended again, they are already in the URL.
func Signature(authToken, fullURL string, params url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(signedText(fullURL, params)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// signedText is what Twilio signs: the URL, then each parameter's name and
// value in name order.
func signedText(fullURL string, params url.Values) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range names {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	return b.String()
}

// VerifySignature reports whether signature is the X-Twilio-Signature of a
// POST of body to fullURL under authToken. A URL carrying bodySHA256 is a
// JSON webhook: the URL alone is signed and the body must hash to it.
// Otherwise body is a form whose decoded parameters are signed. Because
// Twilio has signed the same URL with and without the scheme's default port,
// both forms are accepted.
func VerifySignature(authToken, fullURL string, body []byte, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	u, err := url.Parse(fullURL)
	if err != nil {
		return false
	}
	params := url.Values{}
	if want := u.Query().Get("bodySHA256"); want != "" {
		sum := sha256.Sum256(body)
		if subtle.ConstantTimeCompare([]byte(strings.ToLower(want)), []byte(hex.EncodeToString(sum[:]))) != 1 {
			return false
		}
	} else if params, err = url.ParseQuery(string(body)); err != nil {
		return false
	}
	ok := false
	for _, candidate := range urlVariants(u, fullURL) {
		// Check every variant so timing does not tell which one matched.
		if sdk.VerifyHMAC(sha1.New, []byte(authToken), []byte(signedText(candidate, params)), signature) {
			ok = true
		}
	}
	return ok
}

// urlVariants returns the URL as given and, when it has none or the default
// one, the same URL with the scheme's default port toggled.
func urlVariants(u *url.URL, fullURL string) []string {
	def := map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	if def == "" {
		return []string{fullURL}
	}
	v := *u
	switch u.Port() {
	case "":
		v.Host = net.JoinHostPort(u.Hostname(), def)
	case def:
		v.Host = u.Hostname()
		if strings.Contains(v.Host, ":") { // IPv6 literal
			v.Host = "[" + v.Host + "]"
		}
	default:
		return []string{fullURL}
	}
	return []string{fullURL, v.String()}
}
