package twilio

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/sdk"
)

// emptyTwiML answers an inbound message without replying to it; Twilio logs
// a debugger warning for anything that is not TwiML.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

// Hook paths under the provider's hook URL.
const (
	pathStatus               = "/status"
	pathDeliveryNotification = "/delivery-notification" // the connector shape
	pathReceive              = "/receive"
)

// HandleHook answers the upstream's callbacks: delivery status and inbound
// messages. Events are emitted before the answer is written, so the host
// stores them before the upstream hears 200.
func (p *Provider) HandleHook(ctx context.Context, req *sdk.HookRequest, w sdk.HookResponseWriter) error {
	cfg, _, _, logger, err := p.state()
	if err != nil {
		return err
	}
	path := strings.TrimRight(req.Path, "/")
	switch path {
	case pathStatus, pathDeliveryNotification, pathReceive:
	default:
		reply(w, http.StatusNotFound, fmt.Sprintf("no hook %q here; the hooks are %s, %s and %s", req.Path, pathStatus, pathDeliveryNotification, pathReceive))
		return nil
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, "hooks take POST")
		return nil
	}
	if why := authenticate(cfg, req); why != "" {
		// Nothing from the request reaches the store, and nothing secret
		// reaches the log.
		logger.Warn("refused a callback that failed authentication", "path", path, "remote_addr", req.RemoteAddr, "url", redact(req.URL), "reason", why)
		reply(w, http.StatusForbidden, why)
		return nil
	}
	form, err := url.ParseQuery(string(req.Body))
	if err != nil {
		reply(w, http.StatusBadRequest, "body is not a form (application/x-www-form-urlencoded): "+err.Error())
		return nil
	}
	if path == pathReceive {
		return handleInbound(form, w, logger)
	}
	return handleStatus(form, w, logger)
}

// authenticate returns why the request is refused, or "" when it may pass.
func authenticate(cfg settings, req *sdk.HookRequest) string {
	switch cfg.hookAuth {
	case hookAuthNone:
		return ""
	case hookAuthSharedSecret:
		return checkSharedSecret(cfg, req)
	}
	sig := req.Header.Get("X-Twilio-Signature")
	if sig == "" {
		return "missing X-Twilio-Signature"
	}
	ok := VerifySignature(cfg.authToken.Reveal(), req.URL, req.Body, sig)
	if cfg.secondaryAuthToken != "" && VerifySignature(cfg.secondaryAuthToken.Reveal(), req.URL, req.Body, sig) {
		ok = true
	}
	if !ok {
		// Naming the URL we checked shows a proxy rewriting it (public_url).
		return "invalid X-Twilio-Signature for " + redact(req.URL)
	}
	return ""
}

// checkSharedSecret accepts the X-Hook-Secret header or the secret query
// parameter equal to hook_secret, or the token query parameter of the
// callback URLs this provider hands out; all compared in constant time.
func checkSharedSecret(cfg settings, req *sdk.HookRequest) string {
	var q url.Values
	if u, err := url.Parse(req.URL); err == nil {
		q = u.Query()
	}
	header, secret, token := req.Header.Get("X-Hook-Secret"), q.Get("secret"), q.Get("token")
	if header == "" && secret == "" && token == "" {
		return "missing hook secret (X-Hook-Secret header, secret query parameter, or the token query parameter of the StatusCallback URL smsrouter handed out)"
	}
	ok := equal(header, cfg.hookSecret.Reveal()) | equal(secret, cfg.hookSecret.Reveal()) | equal(token, cfg.callbackToken.Reveal())
	if ok != 1 {
		return "wrong hook secret or callback token"
	}
	return ""
}

// equal is 1 when got is non-empty and equals want, compared in constant
// time (the length of want aside).
func equal(got, want string) int {
	if got == "" || want == "" {
		return 0
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want))
}

func handleStatus(form url.Values, w sdk.HookResponseWriter, logger hclog.Logger) error {
	sid := first(form, "MessageSid", "SmsSid")
	raw := strings.ToLower(first(form, "MessageStatus", "SmsStatus"))
	switch {
	case sid == "":
		reply(w, http.StatusBadRequest, "missing MessageSid (or SmsSid)")
		return nil
	case raw == "":
		reply(w, http.StatusBadRequest, "missing MessageStatus (or SmsStatus)")
		return nil
	}
	code := form.Get("ErrorCode")
	st, ok := mapStatus(raw, code)
	if !ok {
		// An inbound message's own progress; the message itself arrives
		// on /receive.
		logger.Debug("ignored status callback for an inbound message", "message_sid", sid, "status", raw)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	ev := sdk.StatusEvent{ProviderMessageID: sid, Status: st, ProviderStatus: raw, ErrorCode: code, At: time.Now().UTC()}
	if t, err := time.Parse("0601021504", form.Get("RawDlrDoneDate")); err == nil {
		ev.At = t
	}
	// Twilio repeats and reorders callbacks; the id makes a repeat a no-op
	// and the host keeps statuses moving forward only.
	w.Emit(sdk.Event{ID: sid + "/" + raw, Status: &ev})
	w.WriteHeader(http.StatusOK)
	return nil
}

func handleInbound(form url.Values, w sdk.HookResponseWriter, logger hclog.Logger) error {
	sid := first(form, "MessageSid", "SmsMessageSid", "SmsSid")
	from := form.Get("From")
	switch {
	case sid == "":
		reply(w, http.StatusBadRequest, "missing MessageSid (or SmsMessageSid or SmsSid)")
		return nil
	case from == "":
		reply(w, http.StatusBadRequest, "missing From")
		return nil
	}
	w.Emit(sdk.Event{ID: "inbound/" + sid, Inbound: &sdk.InboundEvent{
		ProviderMessageID: sid, From: from, To: form.Get("To"), Text: form.Get("Body"), At: time.Now().UTC()}})
	logger.Debug("inbound message", "message_sid", sid)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write([]byte(emptyTwiML))
	return err
}

// mapStatus normalises a Twilio message status; ok is false for the
// statuses of inbound messages, which are not delivery reports.
func mapStatus(raw, errorCode string) (sdk.Status, bool) {
	blocked := errorCode == "30004" || errorCode == "30007"
	switch raw {
	case "accepted", "scheduled", "queued", "sending":
		return sdk.StatusQueued, true
	case "sent":
		return sdk.StatusSent, true
	case "delivered", "read":
		return sdk.StatusDelivered, true
	case "partially_delivered":
		return sdk.StatusUndeliverable, true
	case "undelivered":
		if blocked {
			return sdk.StatusRejected, true
		}
		return sdk.StatusUndeliverable, true
	case "failed":
		switch {
		case blocked:
			return sdk.StatusRejected, true
		case errorCode == "30036":
			return sdk.StatusExpired, true
		}
		return sdk.StatusFailed, true
	case "canceled":
		return sdk.StatusFailed, true
	case "receiving", "received":
		return "", false
	}
	return sdk.StatusUnknown, true
}

// first returns the first non-empty value among the given form fields,
// which is how the legacy Sms* copies are read.
func first(form url.Values, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(form.Get(n)); v != "" {
			return v
		}
	}
	return ""
}

// redact hides a shared secret or callback token passed in the query string.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	q := u.Query()
	if !q.Has("secret") && !q.Has("token") {
		return rawURL
	}
	for _, k := range []string{"secret", "token"} {
		if q.Has(k) {
			q.Set(k, "REDACTED")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func reply(w sdk.HookResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text + "\n"))
}
