package numbers

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/core/money"
)

// State is where a number is in its life.
type State string

// The states of a number.
const (
	// Available numbers may be assigned.
	Available State = "available"
	// Assigned numbers are held by an account until their lease ends.
	Assigned State = "assigned"
	// Quarantined numbers just left a holder: messages still go to that
	// holder, and nobody may take the number until the quarantine ends, so
	// a late code for the previous holder never reaches the next one.
	Quarantined State = "quarantined"
	// Retired numbers are kept for their history and never assigned.
	Retired State = "retired"
)

// Source says where a number came from.
type Source string

// The sources of numbers.
const (
	// SourceConfig numbers are listed in a provider block (numbers = [...]).
	SourceConfig Source = "config"
	// SourceOperator numbers were added by an operator (CLI or admin API).
	SourceOperator Source = "operator"
	// SourcePlugin numbers were reported by a provider's plugin
	// (sdk.NumberLister): the SIMs of phones and modems.
	SourcePlugin Source = "plugin"
)

// Number is one number of the inventory.
type Number struct {
	// E164 is the number, e.g. "+15550100"; a short code is kept as its
	// digits.
	E164     string
	Country  string // ISO 3166 alpha-2, e.g. "US"
	Operator string // as libphonenumber or the operator names it; may be ""
	// Provider is the provider whose inbound messages reach this number.
	Provider string
	Source   Source
	// Receive and Send are the number's capabilities.
	Receive, Send bool
	State         State
	// Holder is the account holding the number (assigned), or that held it
	// last (quarantined); "" otherwise.
	Holder string
	// AssignedAt is when the current (or last) lease started.
	AssignedAt time.Time
	// LeaseUntil is when the current lease ends; for a quarantined number,
	// when the quarantine ends.
	LeaseUntil time.Time
	// Charged is what the current (or last) lease cost.
	Charged money.Amount
	// Received counts the messages that reached the number during the
	// current (or last) lease.
	Received int
}

// OwnerOf returns the account an inbound message to n belongs to: the
// holder while the number is assigned or in quarantine (a late code goes
// to whoever asked for it), nobody otherwise.
func OwnerOf(n Number) string {
	if n.State == Assigned || n.State == Quarantined {
		return n.Holder
	}
	return ""
}

// Policy is how leases run, from the config's numbers block.
type Policy struct {
	// Lease is how long an assignment lasts unless the request asks for
	// another length; default 20 minutes.
	Lease time.Duration
	// MaxLease caps a lease and its extensions; default 24 hours.
	MaxLease time.Duration
	// Quarantine is how long a number rests after a lease before it may be
	// assigned again; zero for none (the config's default is
	// DefaultQuarantine).
	Quarantine time.Duration
	// RefundUnused gives an assignment's price back when no message
	// reached the number during its lease.
	RefundUnused bool
}

// Defaults of Policy.
const (
	DefaultLease      = 20 * time.Minute
	DefaultMaxLease   = 24 * time.Hour
	DefaultQuarantine = 10 * time.Minute
)

// OrDefaults fills in the zero fields.
func (p Policy) OrDefaults() Policy {
	if p.Lease <= 0 {
		p.Lease = DefaultLease
	}
	if p.MaxLease <= 0 {
		p.MaxLease = max(DefaultMaxLease, p.Lease)
	}
	if p.Quarantine < 0 {
		p.Quarantine = 0
	}
	return p
}

// Request asks for a number.
type Request struct {
	AccountID string
	// Country is required (ISO alpha-2); Operator is optional.
	Country, Operator string
	// Lease is the lease's length; zero means the policy's.
	Lease time.Duration
	// Price is what the assignment costs the account.
	Price money.Amount
}

// Errors callers branch on.
var (
	// ErrNoNumber means no number of the country (and operator) is
	// available; the seed's API answers it 404 "No number received".
	ErrNoNumber = errors.New("no number is available for that country and operator")
	// ErrNotHeld means the account does not hold that number (or it does
	// not exist): releasing, extending or reading it is refused.
	ErrNotHeld = errors.New("the account holds no such number")
	// ErrExists means the number is already in the inventory.
	ErrExists = errors.New("the number is already in the inventory")
	// ErrUnknown means the number is not in the inventory.
	ErrUnknown = errors.New("the number is not in the inventory")
)

// LeaseError refuses a lease length.
type LeaseError struct{ Asked, Max time.Duration }

func (e *LeaseError) Error() string {
	return fmt.Sprintf("a lease of %s is not within 1m..%s", e.Asked, e.Max)
}

// CheckLease checks a requested lease length against p; zero is the
// default.
func (p Policy) CheckLease(d time.Duration) (time.Duration, error) {
	p = p.OrDefaults()
	if d == 0 {
		return p.Lease, nil
	}
	if d < time.Minute || d > p.MaxLease {
		return 0, &LeaseError{Asked: d, Max: p.MaxLease}
	}
	return d, nil
}

// Format is how the virtual-number API writes a number.
type Format string

// The formats of number_format.
const (
	// FormatFull is E.164 with its plus: "+15550100".
	FormatFull Format = "full"
	// FormatNational drops the country calling code: "5550100".
	FormatNational Format = "national"
	// FormatRemovePlus is E.164 without its plus: "15550100".
	FormatRemovePlus Format = "remove_plus"
)

// Formats lists the formats in the order the API names them.
func Formats() []Format { return []Format{FormatFull, FormatNational, FormatRemovePlus} }

// ParseFormat reads number_format; "" is FormatFull.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case "":
		return FormatFull, nil
	case FormatFull, FormatNational, FormatRemovePlus:
		return f, nil
	}
	return "", fmt.Errorf("number_format must be one of full, national, remove_plus; got %q", s)
}

// Apply writes e164 in f; callingCode is the number's country calling
// code without "+", e.g. "1".
func (f Format) Apply(e164, callingCode string) string {
	switch f {
	case FormatRemovePlus:
		return strings.TrimPrefix(e164, "+")
	case FormatNational:
		digits := strings.TrimPrefix(e164, "+")
		if callingCode != "" && strings.HasPrefix(e164, "+") {
			return strings.TrimPrefix(digits, callingCode)
		}
		return digits
	}
	return e164
}

// Filter selects numbers of the inventory.
type Filter struct {
	State             State
	Country, Operator string
	// Holder keeps the numbers the account holds or held last (assigned
	// or quarantined).
	Holder string
	// Limit caps the list; at most 1000.
	Limit int
}

// Swept is what a sweep changed.
type Swept struct {
	// Ended leases went into quarantine; Refunded of them were refunded.
	Ended, Refunded int
	// Freed quarantines returned their numbers to the pool.
	Freed int
}
