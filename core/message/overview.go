package message

import "time"

// MinuteCount is how many messages created in one minute are now in one
// status with one provider ("" before a provider took them).
type MinuteCount struct {
	Minute   time.Time
	Status   Status
	Provider string
	Count    int
}

// Queue is how many messages wait to be sent: queued (never tried) and
// pending (to be tried again).
type Queue struct {
	Queued  int
	Pending int
}

// WebhookBacklog is the webhook events not yet delivered or given up.
type WebhookBacklog struct {
	Pending int
	// Oldest is when the one due first was written; nil when none waits.
	Oldest *time.Time
}
