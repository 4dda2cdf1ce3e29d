package outbox

import "time"

// Logged is what became of one event sent for a message, as the API shows
// it: the delivery and every attempt made for it, oldest first.
type Logged struct {
	EventID string
	Type    EventType
	// CallbackURL is the message's own callback_url; empty means the
	// account's URL.
	CallbackURL string
	// URL is where the delivery goes: CallbackURL, else the account's
	// webhook URL; empty when there is none. The store leaves it empty;
	// core fills it in.
	URL   string
	State State
	// Attempts counts the attempts made, the delivering one included.
	Attempts int
	// NextAttemptAt is when a pending delivery is tried next.
	NextAttemptAt time.Time
	// LastStatus is the HTTP status of the latest attempt (0 when it got
	// no answer) and LastError why it failed.
	LastStatus  int
	LastError   string
	CreatedAt   time.Time
	DeliveredAt *time.Time
	GaveUpAt    *time.Time
	AttemptLog  []Attempt
}

// Attempt is one HTTP request made for a delivery.
type Attempt struct {
	At time.Time
	// HTTPStatus is 0 when the request got no answer (refused, timed out).
	HTTPStatus int
	Error      string
	DurationMS int64
}
