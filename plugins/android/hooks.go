package android

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/smsrouter/smsrouter/sdk"
)

// The paths under the provider's hook URL. The app appends its own paths
// (/device, /message, /events, …) to the URL typed into it, which is the
// hook URL followed by mobilePrefix.
const (
	mobilePrefix = "/mobile/v1"
	webhookPath  = "/webhook"
	adminPrefix  = "/admin/devices"
)

// maxPatchItems bounds one PATCH /message: the app reports a message at a
// time, so more is a broken or hostile phone.
const maxPatchItems = 1000

// HandleHook answers the phones' mobile API, the webhooks the phones post
// and the operator's admin calls.
func (p *Provider) HandleHook(ctx context.Context, req *sdk.HookRequest, w sdk.HookResponseWriter) error {
	p.mu.Lock()
	ready := p.configured
	p.mu.Unlock()
	if !ready {
		return fmt.Errorf("android: %w: not configured yet", sdk.ErrUnavailable)
	}
	path := strings.TrimRight(req.Path, "/")
	switch {
	case path == webhookPath:
		return p.phoneWebhook(req, w)
	case path == adminPrefix || strings.HasPrefix(path, adminPrefix+"/"):
		return p.admin(req, path, w)
	case strings.HasPrefix(path, mobilePrefix+"/"):
		return p.mobile(ctx, req, strings.TrimPrefix(path, mobilePrefix), w)
	}
	fail(w, http.StatusNotFound, fmt.Sprintf("no such path %q: the phone's server URL is %s", req.Path, p.phoneURL()))
	return nil
}

// mobile routes one call of the app's mobile API.
func (p *Provider) mobile(ctx context.Context, req *sdk.HookRequest, path string, w sdk.HookResponseWriter) error {
	if req.Method == http.MethodPost && path == "/device" {
		return p.register(req, w)
	}
	d := p.authenticate(req)
	if d == nil {
		fail(w, http.StatusUnauthorized, "missing or unknown device token: register the phone again")
		return nil
	}
	switch req.Method + " " + path {
	case "PATCH /device":
		return p.updateDevice(req, d, w)
	case "GET /device":
		return p.deviceInfo(req, d, w)
	case "GET /events":
		return p.events(ctx, d, w)
	case "GET /message":
		return p.pending(req, d, w)
	case "PATCH /message":
		return p.patchMessages(req, d, w)
	case "GET /webhooks":
		return p.webhooks(d, w)
	case "GET /settings":
		return p.deviceSettings(d, w)
	}
	fail(w, http.StatusNotFound, fmt.Sprintf("%s %s%s is not part of the mobile API this server speaks", req.Method, mobilePrefix, path))
	return nil
}

// authenticate finds the phone whose device token the request carries and
// marks it seen.
func (p *Provider) authenticate(req *sdk.HookRequest) *device {
	token, ok := bearer(req.Header)
	if !ok {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.byToken[hashToken(token)]
	if d != nil {
		p.seenLocked(d)
	}
	return d
}

// seenLocked records activity of d; a phone that was offline or suspect
// is online again, which may let waiting messages go.
func (p *pool) seenLocked(d *device) {
	now := p.now()
	wasOnline := d.online(now, p.offlineAfter())
	d.lastSeen, d.suspect = now, false
	if !wasOnline {
		p.signalLocked()
	}
}

func bearer(h http.Header) (string, bool) {
	v := h.Get("Authorization")
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// sameSecret compares in constant time.
func sameSecret(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// hashToken is how a device token is kept: its SHA-256. Tokens are 32
// random bytes, so a plain hash cannot be reversed by guessing.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newSecret returns n random bytes, URL-safe base64.
func newSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// signingKey is the key phone d signs its webhooks with. It is derived
// from the private token, so nothing secret is stored and it survives
// restarts; each phone has its own, so one phone cannot sign as another.
func (p *pool) signingKey(deviceID string) string {
	m := hmac.New(sha256.New, []byte(p.s.PrivateToken))
	m.Write([]byte("smsrouter android webhook signing key\x00" + deviceID))
	return hex.EncodeToString(m.Sum(nil))
}

// decode reads a JSON body into v, or answers 400 naming what is wrong.
func decode(req *sdk.HookRequest, v any, w sdk.HookResponseWriter) bool {
	if err := json.Unmarshal(req.Body, v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		msg := "malformed JSON body: " + err.Error()
		switch {
		case errors.As(err, &te) && te.Field != "":
			msg = fmt.Sprintf("field %s: want %s, got %s", jsonField(te.Field), te.Type, te.Value)
		case errors.As(err, &se):
			msg = fmt.Sprintf("malformed JSON body at byte %d: %v", se.Offset, err)
		}
		fail(w, http.StatusBadRequest, msg)
		return false
	}
	return true
}

// writeJSON answers status with v as JSON.
func writeJSON(w sdk.HookResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		fail(w, http.StatusInternalServerError, "encoding the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// fail answers an error as JSON. "error" is smsrouter's key, "message" the
// app's (it shows it to the user).
func fail(w sdk.HookResponseWriter, status int, msg string) {
	body, _ := json.Marshal(map[string]string{"error": msg, "message": msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// query parses the request's query string.
func query(req *sdk.HookRequest) url.Values {
	u, err := url.Parse(req.URL)
	if err != nil {
		return url.Values{}
	}
	return u.Query()
}

// jsonField drops the Go names of embedded structs from encoding/json's
// field path ("MobileRegisterRequest.name" is "name" on the wire).
func jsonField(path string) string {
	parts := strings.Split(path, ".")
	out := parts[:0]
	for _, p := range parts {
		if p != "" && p[0] >= 'A' && p[0] <= 'Z' {
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return path
	}
	return strings.Join(out, ".")
}
