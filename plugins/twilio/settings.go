package twilio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// Limits for settings; values outside them are configuration mistakes.
const (
	defaultBaseURL        = "https://api.twilio.com"
	defaultRequestTimeout = 10 * time.Second
	minRequestTimeout     = time.Second
	maxRequestTimeout     = 2 * time.Minute
	defaultMaxBatchSize   = 20
	maxBatchLimit         = 1000
	defaultConcurrency    = 4
	maxConcurrencyLimit   = 100
	minValidityPeriod     = time.Second
	maxValidityPeriod     = 10 * time.Hour // Twilio's limit: 36000 s
)

// Hook authentication modes.
const (
	hookAuthSignature    = "twilio_signature"
	hookAuthSharedSecret = "shared_secret"
	hookAuthNone         = "none"
)

// settings is the validated form of the provider block's config.
type settings struct {
	accountSID          string
	authToken           sdk.Secret
	secondaryAuthToken  sdk.Secret
	baseURL             string // without a trailing slash
	from                string
	messagingServiceSID string
	validityPeriod      time.Duration
	requestTimeout      time.Duration
	maxBatchSize        int
	maxConcurrency      int
	hookAuth            string
	hookSecret          sdk.Secret
	// callbackToken is CallbackToken(hookSecret, provider name), set by
	// Configure with hook_auth = "shared_secret".
	callbackToken sdk.Secret
}

// rawSettings mirrors the JSON document; pointers tell "absent" from zero.
type rawSettings struct {
	AccountSID          *string       `json:"account_sid"`
	AuthToken           *sdk.Secret   `json:"auth_token"`
	SecondaryAuthToken  *sdk.Secret   `json:"secondary_auth_token"`
	BaseURL             *string       `json:"base_url"`
	From                *string       `json:"from"`
	MessagingServiceSID *string       `json:"messaging_service_sid"`
	ValidityPeriod      *sdk.Duration `json:"validity_period"`
	RequestTimeout      *sdk.Duration `json:"request_timeout"`
	MaxBatchSize        *int          `json:"max_batch_size"`
	MaxConcurrency      *int          `json:"max_concurrency"`
	HookAuth            *string       `json:"hook_auth"`
	HookSecret          *sdk.Secret   `json:"hook_secret"`
}

// parseSettings decodes and checks the settings document. Every error names
// the offending field, because an operator reads it at start-up; none quotes
// a secret.
func parseSettings(doc json.RawMessage) (settings, error) {
	s := settings{
		baseURL:        defaultBaseURL,
		requestTimeout: defaultRequestTimeout,
		maxBatchSize:   defaultMaxBatchSize,
		maxConcurrency: defaultConcurrency,
		hookAuth:       hookAuthSignature,
	}
	trimmed := bytes.TrimSpace(doc)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return s, errors.New("settings: account_sid and auth_token are required")
	}
	var raw rawSettings
	if err := sdk.DecodeSettings(trimmed, &raw); err != nil {
		return s, err
	}

	if raw.AccountSID == nil || strings.TrimSpace(*raw.AccountSID) == "" {
		return s, errors.New("setting account_sid: required, the account id such as \"AC0123...\"")
	}
	s.accountSID = strings.TrimSpace(*raw.AccountSID)
	if strings.ContainsAny(s.accountSID, "/?#% ") {
		return s, fmt.Errorf("setting account_sid: %q contains characters an account id cannot have", s.accountSID)
	}
	if raw.AuthToken == nil || *raw.AuthToken == "" {
		return s, errors.New("setting auth_token: required; pass it from the environment with env(\"...\")")
	}
	s.authToken = *raw.AuthToken
	if raw.SecondaryAuthToken != nil {
		s.secondaryAuthToken = *raw.SecondaryAuthToken
	}
	if raw.BaseURL != nil {
		u, err := url.Parse(*raw.BaseURL)
		switch {
		case err != nil:
			return s, fmt.Errorf("setting base_url: %q is not a URL: %w", *raw.BaseURL, err)
		case u.Scheme != "http" && u.Scheme != "https":
			return s, fmt.Errorf("setting base_url: %q must start with http:// or https://", *raw.BaseURL)
		case u.Host == "":
			return s, fmt.Errorf("setting base_url: %q has no host", *raw.BaseURL)
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			return s, fmt.Errorf("setting base_url: %q must not have credentials, a query or a fragment", *raw.BaseURL)
		}
		s.baseURL = strings.TrimRight(*raw.BaseURL, "/")
	}
	if raw.From != nil {
		s.from = strings.TrimSpace(*raw.From)
	}
	if raw.MessagingServiceSID != nil {
		s.messagingServiceSID = strings.TrimSpace(*raw.MessagingServiceSID)
	}
	if raw.ValidityPeriod != nil {
		if err := sdk.InRange("validity_period", *raw.ValidityPeriod, sdk.Duration(minValidityPeriod), sdk.Duration(maxValidityPeriod)); err != nil {
			return s, err
		}
		s.validityPeriod = raw.ValidityPeriod.D()
	}
	if raw.RequestTimeout != nil {
		if err := sdk.InRange("request_timeout", *raw.RequestTimeout, sdk.Duration(minRequestTimeout), sdk.Duration(maxRequestTimeout)); err != nil {
			return s, err
		}
		s.requestTimeout = raw.RequestTimeout.D()
	}
	if raw.MaxBatchSize != nil {
		if *raw.MaxBatchSize < 1 || *raw.MaxBatchSize > maxBatchLimit {
			return s, fmt.Errorf("setting max_batch_size: %d is out of range, want 1 to %d", *raw.MaxBatchSize, maxBatchLimit)
		}
		s.maxBatchSize = *raw.MaxBatchSize
	}
	if raw.MaxConcurrency != nil {
		if *raw.MaxConcurrency < 1 || *raw.MaxConcurrency > maxConcurrencyLimit {
			return s, fmt.Errorf("setting max_concurrency: %d is out of range, want 1 to %d", *raw.MaxConcurrency, maxConcurrencyLimit)
		}
		s.maxConcurrency = *raw.MaxConcurrency
	}
	if raw.HookAuth != nil {
		switch *raw.HookAuth {
		case hookAuthSignature, hookAuthSharedSecret, hookAuthNone:
			s.hookAuth = *raw.HookAuth
		default:
			return s, fmt.Errorf("setting hook_auth: %q is not one of %q, %q, %q", *raw.HookAuth, hookAuthSignature, hookAuthSharedSecret, hookAuthNone)
		}
	}
	if raw.HookSecret != nil {
		s.hookSecret = *raw.HookSecret
	}
	switch {
	case s.hookAuth == hookAuthSharedSecret && len(s.hookSecret) < 16:
		return s, errors.New("setting hook_secret: with hook_auth = \"shared_secret\" it must be at least 16 characters")
	case s.hookAuth != hookAuthSharedSecret && s.hookSecret != "":
		return s, fmt.Errorf("setting hook_secret: only used with hook_auth = %q, but hook_auth is %q", hookAuthSharedSecret, s.hookAuth)
	}
	return s, nil
}
