package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// signatureTolerance is how far X-Timestamp may be from this clock, as
// docs/webhooks.md advises receivers.
const signatureTolerance = 5 * time.Minute

// Why a webhook was refused; the report counts them by these.
var (
	errNoSignature    = errors.New("no X-Signature header")
	errBadTimestamp   = errors.New("X-Timestamp is not Unix seconds")
	errStaleTimestamp = errors.New("X-Timestamp too far from now")
	errBadSignature   = errors.New("X-Signature does not match the body")
)

// verifySignature checks a webhook the way docs/webhooks.md tells
// applications to: hex HMAC-SHA256, keyed with the secret, of X-Timestamp,
// ".", and the raw body, compared in constant time, with the timestamp
// within signatureTolerance of now.
func verifySignature(secret, signature, timestamp string, body []byte, now time.Time) error {
	if signature == "" {
		return errNoSignature
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q", errBadTimestamp, timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > signatureTolerance || d < -signatureTolerance {
		return fmt.Errorf("%w: %s away", errStaleTimestamp, d.Round(time.Second))
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "."))
	mac.Write(body)
	if !hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(signature)) {
		return errBadSignature
	}
	return nil
}

// refusalReason is the report's name for why verifySignature refused.
func refusalReason(err error) string {
	for _, e := range []error{errNoSignature, errBadTimestamp, errStaleTimestamp, errBadSignature} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return err.Error()
}

// receiver is the application end of the webhooks: it verifies each
// request, records its event in the tracker and answers 204 at once.
type receiver struct {
	secret string
	track  *tracker
	now    func() time.Time
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	at := r.now()
	if req.Method != http.MethodPost {
		http.Error(w, "webhooks are POSTed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	// Refused, not ignored: smsrouter retries a non-2xx answer, so a
	// signing fault shows in the report and in the message's webhook
	// history instead of vanishing.
	if err := verifySignature(r.secret, req.Header.Get("X-Signature"), req.Header.Get("X-Timestamp"), body, at); err != nil {
		r.track.badSignature(refusalReason(err))
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" {
		r.track.badSignature("signed body is not an event")
		http.Error(w, "body is not a webhook event", http.StatusBadRequest)
		return
	}
	r.track.receive(ev, at)
	w.WriteHeader(http.StatusNoContent)
}

type webhookAnswer struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
	Error  string `json:"error"`
}

// registerWebhook points the key's account webhook at url and returns a
// fresh secret. It refuses an account whose webhook goes elsewhere:
// taking it over would rotate the secret its real receiver relies on.
func registerWebhook(ctx context.Context, cl *client, url string) (string, error) {
	var cur webhookAnswer
	code, err := cl.call(ctx, http.MethodGet, "/api/v1/webhook", nil, &cur)
	switch {
	case err != nil:
		return "", fmt.Errorf("read the account's webhook: %w", err)
	case code == http.StatusOK && cur.URL != url:
		return "", fmt.Errorf("the account already has a webhook (%q); use a key of an account without one, or remove it with DELETE /api/v1/webhook", cur.URL)
	case code != http.StatusOK && code != http.StatusNotFound:
		return "", fmt.Errorf("read the account's webhook: HTTP %d %s", code, cur.Error)
	}
	// A webhook left by an earlier -keep-webhook run has a secret nobody
	// kept: rotating gets one either way.
	var a webhookAnswer
	code, err = cl.call(ctx, http.MethodPut, "/api/v1/webhook", map[string]any{"url": url, "rotate_secret": true}, &a)
	switch {
	case err != nil:
		return "", fmt.Errorf("set the account's webhook: %w", err)
	case code != http.StatusOK:
		return "", fmt.Errorf("set the account's webhook: HTTP %d %s", code, a.Error)
	case a.Secret == "":
		return "", errors.New("set the account's webhook: the answer carries no secret")
	}
	return a.Secret, nil
}

func deleteWebhook(ctx context.Context, cl *client) error {
	var a webhookAnswer
	code, err := cl.call(ctx, http.MethodDelete, "/api/v1/webhook", nil, &a)
	if err != nil {
		return fmt.Errorf("remove the account's webhook: %w", err)
	}
	if code != http.StatusNoContent && code != http.StatusNotFound {
		return fmt.Errorf("remove the account's webhook: HTTP %d %s", code, a.Error)
	}
	return nil
}
