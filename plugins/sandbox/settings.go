package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// Limits for settings; values outside them are configuration mistakes, not
// simulations anyone wants.
const (
	maxAcceptLatency = time.Minute
	maxDLRDelay      = 24 * time.Hour
	maxBatchLimit    = 10000
)

var (
	e164Pattern     = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// settings is the validated form of the provider block's config.
type settings struct {
	acceptLatency time.Duration
	failureRatio  float64
	rejectRatio   float64
	deliveryRatio float64
	dlrDelay      time.Duration
	balance       sdk.Balance
	senderIDs     []sdk.SenderID
	seed          int64
	maxBatchSize  int
	rejectNumbers map[string]bool
	// receiptsDir, when set, is where every acceptance is recorded (see
	// receiptBook); dedupeByMessageID makes processes sharing it answer a
	// message sent again with the id it was first accepted under.
	receiptsDir       string
	dedupeByMessageID bool
	// outboxSize is how many of the latest accepted messages Outbox keeps.
	outboxSize int
	// down and refuseWhileDown are set only by Tune, to rehearse an
	// outage: Health reports the link down and Send answers Unavailable.
	down            bool
	refuseWhileDown bool
}

// defaultSender is the sender a message without one goes out with: the
// first of sender_ids, as a real account's default.
func (s settings) defaultSender() string {
	if len(s.senderIDs) == 0 {
		return ""
	}
	return s.senderIDs[0].Value
}

func defaultSettings() settings {
	return settings{
		deliveryRatio: 1,
		dlrDelay:      time.Second,
		balance:       sdk.Balance{Amount: 100, Currency: "USD"},
		senderIDs:     []sdk.SenderID{{Value: "SANDBOX", Kind: "alphanumeric"}},
		maxBatchSize:  100,
		rejectNumbers: map[string]bool{},
		outboxSize:    defaultOutboxSize,
	}
}

// rawSettings mirrors the JSON document; pointers tell "absent" from zero.
type rawSettings struct {
	AcceptLatency *sdk.Duration `json:"accept_latency"`
	FailureRatio  *float64      `json:"failure_ratio"`
	RejectRatio   *float64      `json:"reject_ratio"`
	DeliveryRatio *float64      `json:"delivery_ratio"`
	DLRDelay      *sdk.Duration `json:"dlr_delay"`
	Balance       *rawBalance   `json:"balance"`
	SenderIDs     []string      `json:"sender_ids"`
	Seed          *int64        `json:"seed"`
	MaxBatchSize  *int          `json:"max_batch_size"`
	RejectNumbers []string      `json:"reject_numbers"`
	ReceiptsDir   *string       `json:"receipts_dir"`
	Dedupe        *bool         `json:"dedupe_by_message_id"`
	OutboxSize    *int          `json:"outbox_size"`
}

type rawBalance struct {
	Amount   *float64 `json:"amount"`
	Currency *string  `json:"currency"`
}

// parseSettings decodes and checks the settings document. Every error names
// the offending field, because an operator reads it at start-up.
func parseSettings(doc json.RawMessage) (settings, error) {
	s := defaultSettings()
	trimmed := bytes.TrimSpace(doc)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return s, nil
	}
	var raw rawSettings
	if err := sdk.DecodeSettings(trimmed, &raw); err != nil {
		return s, err
	}

	if raw.AcceptLatency != nil {
		if err := sdk.InRange("accept_latency", *raw.AcceptLatency, 0, sdk.Duration(maxAcceptLatency)); err != nil {
			return s, err
		}
		s.acceptLatency = raw.AcceptLatency.D()
	}
	if raw.DLRDelay != nil {
		if err := sdk.InRange("dlr_delay", *raw.DLRDelay, 0, sdk.Duration(maxDLRDelay)); err != nil {
			return s, err
		}
		s.dlrDelay = raw.DLRDelay.D()
	}
	for _, r := range []struct {
		name string
		in   *float64
		out  *float64
	}{
		{"failure_ratio", raw.FailureRatio, &s.failureRatio},
		{"reject_ratio", raw.RejectRatio, &s.rejectRatio},
		{"delivery_ratio", raw.DeliveryRatio, &s.deliveryRatio},
	} {
		if r.in == nil {
			continue
		}
		if math.IsNaN(*r.in) || *r.in < 0 || *r.in > 1 {
			return s, fmt.Errorf("setting %s: %v is out of range, want a fraction between 0 and 1", r.name, *r.in)
		}
		*r.out = *r.in
	}
	if s.failureRatio+s.rejectRatio > 1 {
		return s, fmt.Errorf("settings failure_ratio and reject_ratio: together %v exceed 1", s.failureRatio+s.rejectRatio)
	}
	if raw.Balance != nil {
		if raw.Balance.Amount != nil {
			if math.IsNaN(*raw.Balance.Amount) || math.IsInf(*raw.Balance.Amount, 0) {
				return s, errors.New("setting balance.amount: must be a finite number")
			}
			s.balance.Amount = *raw.Balance.Amount
		}
		if raw.Balance.Currency != nil {
			if !currencyPattern.MatchString(*raw.Balance.Currency) {
				return s, fmt.Errorf("setting balance.currency: %q is not a three-letter ISO 4217 code such as \"USD\"", *raw.Balance.Currency)
			}
			s.balance.Currency = *raw.Balance.Currency
		}
	}
	if raw.SenderIDs != nil {
		s.senderIDs = make([]sdk.SenderID, 0, len(raw.SenderIDs))
		for i, v := range raw.SenderIDs {
			id, err := parseSenderID(v)
			if err != nil {
				return s, fmt.Errorf("setting sender_ids[%d]: %w", i, err)
			}
			s.senderIDs = append(s.senderIDs, id)
		}
	}
	if raw.Seed != nil {
		s.seed = *raw.Seed
	}
	if raw.MaxBatchSize != nil {
		if *raw.MaxBatchSize < 1 || *raw.MaxBatchSize > maxBatchLimit {
			return s, fmt.Errorf("setting max_batch_size: %d is out of range, want 1 to %d", *raw.MaxBatchSize, maxBatchLimit)
		}
		s.maxBatchSize = *raw.MaxBatchSize
	}
	for i, n := range raw.RejectNumbers {
		if !e164Pattern.MatchString(n) {
			return s, fmt.Errorf("setting reject_numbers[%d]: %q is not an E.164 number such as \"+14155550100\"", i, n)
		}
		s.rejectNumbers[n] = true
	}
	if raw.ReceiptsDir != nil {
		// The plugin runs in the host's working directory, which operators
		// rarely think of; an absolute path leaves no doubt where it writes.
		if !filepath.IsAbs(*raw.ReceiptsDir) {
			return s, fmt.Errorf("setting receipts_dir: %q is not an absolute path", *raw.ReceiptsDir)
		}
		s.receiptsDir = filepath.Clean(*raw.ReceiptsDir)
	}
	if raw.Dedupe != nil {
		if *raw.Dedupe && s.receiptsDir == "" {
			return s, errors.New("setting dedupe_by_message_id: needs receipts_dir, where the processes share what they accepted")
		}
		s.dedupeByMessageID = *raw.Dedupe
	}
	if raw.OutboxSize != nil {
		if *raw.OutboxSize < 0 || *raw.OutboxSize > maxOutboxSize {
			return s, fmt.Errorf("setting outbox_size: %d is out of range, want 0 (keep none) to %d", *raw.OutboxSize, maxOutboxSize)
		}
		s.outboxSize = *raw.OutboxSize
	}
	return s, nil
}

// parseSenderID infers the kind the way handsets show senders: up to six
// digits is a short code, a leading + an E.164 number, anything else a name.
func parseSenderID(v string) (sdk.SenderID, error) {
	switch {
	case v == "":
		return sdk.SenderID{}, errors.New("empty sender")
	case strings.HasPrefix(v, "+"):
		if !e164Pattern.MatchString(v) {
			return sdk.SenderID{}, fmt.Errorf("%q starts with + but is not an E.164 number", v)
		}
		return sdk.SenderID{Value: v, Kind: "number"}, nil
	case len(v) <= 6 && allDigits(v):
		return sdk.SenderID{Value: v, Kind: "shortcode"}, nil
	case len(v) > 11:
		return sdk.SenderID{}, fmt.Errorf("%q is longer than the 11 characters an alphanumeric sender may have", v)
	}
	return sdk.SenderID{Value: v, Kind: "alphanumeric"}, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
