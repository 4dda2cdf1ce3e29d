package pluginhost

import (
	"context"
	"errors"
	"fmt"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/sdk"
)

// The protocol's sentinel errors under the host's names, so that callers
// branch on them without speaking sdk. They are the sdk's values, not
// copies: an error a plugin returns across gRPC still matches with
// errors.Is, and nothing is translated per call.
var (
	// ErrUnavailable: the plugin is not running or died during the call;
	// ask again later.
	ErrUnavailable = sdk.ErrUnavailable
	// ErrOutcomeUnknown: a Send reached the plugin but its answer was lost,
	// so the provider may have taken some of the messages.
	ErrOutcomeUnknown = sdk.ErrOutcomeUnknown
)

// ErrNotSupported is returned for a provider whose plugin does not offer
// what was asked of it: a query (see Capabilities), devices, revocation,
// tuning. Its text ends sentences such as "provider sms-1 cannot revoke
// devices: its plugin does not offer it".
var ErrNotSupported = errors.New("its plugin does not offer it")

// Capabilities is what the host's dispatch needs to know of a running
// provider.
type Capabilities struct {
	// MaxBatchSize is the most messages one Send takes; 0 means one.
	MaxBatchSize int
	// StatusQuery: QueryStatus can ask the provider about sent messages.
	StatusQuery bool
	// SentQuery: QuerySent can ask the provider whether it took messages
	// whose Send answer was lost.
	SentQuery bool
}

// Sent is a provider's answer that it took a message: under
// ProviderMessageID, with its own code.
type Sent struct {
	MessageID         string
	ProviderMessageID string
	Code              string
}

// Capabilities returns what the named provider offers. A query counts only
// when the plugin both declares it and implements it. It fails with an
// error wrapping ErrUnavailable while the plugin is not running.
func (h *Host) Capabilities(name string) (Capabilities, error) {
	p, caps, err := h.Provider(name)
	if err != nil {
		return Capabilities{}, err
	}
	_, status := p.(sdk.StatusQuerier)
	_, sent := p.(sdk.SentQuerier)
	return Capabilities{MaxBatchSize: caps.MaxBatchSize, StatusQuery: status && caps.StatusQuery,
		SentQuery: sent && caps.SentQuery}, nil
}

// QueryStatus asks the named provider for the current status of messages
// it took, by its ids, and returns the reports it gives.
func (h *Host) QueryStatus(ctx context.Context, name string, providerIDs []string) ([]message.Report, error) {
	p, caps, err := h.Provider(name)
	if err != nil {
		return nil, err
	}
	q, ok := p.(sdk.StatusQuerier)
	if !ok || !caps.StatusQuery {
		return nil, fmt.Errorf("provider %s: query status: %w", name, ErrNotSupported)
	}
	evs, err := q.QueryStatus(ctx, providerIDs)
	if err != nil {
		return nil, err
	}
	out := make([]message.Report, len(evs))
	for i, ev := range evs {
		out[i] = Report(ev)
	}
	return out, nil
}

// QuerySent asks the named provider which of the messages, by the host's
// ids, it took. Only the messages it says it accepted under an id of its
// own come back; the others it did not take and may be sent again.
func (h *Host) QuerySent(ctx context.Context, name string, messageIDs []string) ([]Sent, error) {
	p, caps, err := h.Provider(name)
	if err != nil {
		return nil, err
	}
	q, ok := p.(sdk.SentQuerier)
	if !ok || !caps.SentQuery {
		return nil, fmt.Errorf("provider %s: query sent: %w", name, ErrNotSupported)
	}
	res, err := q.QuerySent(ctx, messageIDs)
	if err != nil {
		return nil, err
	}
	out := make([]Sent, 0, len(res))
	for _, r := range res {
		if r.Outcome == sdk.Accepted && r.ProviderMessageID != "" {
			out = append(out, Sent{MessageID: r.MessageID, ProviderMessageID: r.ProviderMessageID, Code: r.Code})
		}
	}
	return out, nil
}
