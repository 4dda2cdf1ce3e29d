package retention

import "time"

// DefaultPeriod is how long finished webhook deliveries and processed
// event ids are kept when a Policy leaves them at zero.
const DefaultPeriod = 30 * 24 * time.Hour

// DefaultHeldPeriod is how long a held report waits for its message when
// a Policy leaves it at zero. A report beats its submit answer by seconds
// (the plugin's queue_timeout at most); one still held an hour later
// belongs to no message that will come.
const DefaultHeldPeriod = time.Hour

// Policy says how long history that only serves inspection is kept.
type Policy struct {
	// Webhooks is how long delivered and given-up webhook deliveries, and
	// their attempts, stay visible (GET /api/v1/sms/:id/webhooks) after
	// they finished; zero means DefaultPeriod.
	Webhooks time.Duration
	// ProcessedEvents is how long a provider event's id is remembered to
	// drop the event should the provider emit it again; zero means
	// DefaultPeriod.
	ProcessedEvents time.Duration
	// HeldStatuses is how long a report whose message is not known is kept
	// for it; zero means DefaultHeldPeriod.
	HeldStatuses time.Duration
}

// OrDefaults is p with every period left at zero (or below) set to its
// default, as a Store's Prune applies it.
func (p Policy) OrDefaults() Policy {
	if p.Webhooks <= 0 {
		p.Webhooks = DefaultPeriod
	}
	if p.ProcessedEvents <= 0 {
		p.ProcessedEvents = DefaultPeriod
	}
	if p.HeldStatuses <= 0 {
		p.HeldStatuses = DefaultHeldPeriod
	}
	return p
}

// Pruned counts the rows one Prune deleted.
type Pruned struct {
	RateWindows     int64
	OTPCodes        int64
	Webhooks        int64
	WebhookAttempts int64
	ProcessedEvents int64
	HeldStatuses    int64
	// SealedTexts counts the sealed full texts dropped from messages that
	// keep less and are never to be sent again.
	SealedTexts int64
}

// Total is the number of rows deleted.
func (p Pruned) Total() int64 {
	return p.RateWindows + p.OTPCodes + p.Webhooks + p.WebhookAttempts + p.ProcessedEvents + p.HeldStatuses + p.SealedTexts
}
