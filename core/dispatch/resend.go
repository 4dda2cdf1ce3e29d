package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
)

// CodeOutcomeUnknown is the error code of a message whose Send reached the
// plugin but got no answer (the plugin process died during the call) at a
// provider that can be asked about it (Capabilities.SentQuery). Such a message
// stays with that provider and is asked about before it is sent again.
const CodeOutcomeUnknown = "OUTCOME_UNKNOWN"

// inDoubt keeps a message whose Send answer was lost with its provider,
// pending, due again after the shortest backoff: the next attempt asks the
// provider whether it took the message before sending it again. Failing
// over now could deliver it through two providers.
func (d *Dispatcher) inDoubt(m *Message, provider string, now time.Time, reason string) message.Attempt {
	due := now.Add(d.o.MinRetry)
	if due.After(m.ExpiresAt) {
		due = m.ExpiresAt
	}
	return message.Attempt{MessageID: m.ID, Provider: provider, Status: message.Pending, Candidate: m.Candidate,
		Code: CodeOutcomeUnknown, Reason: fmt.Sprintf("%s: %s", provider, reason), RetryAt: due, At: now}
}

// resolveInDoubt asks provider about the messages of group whose last Send
// there went unanswered (CodeOutcomeUnknown). Those the provider took are
// recorded sent with its id and not sent again; the others are returned to
// be sent. While the provider cannot be asked (its plugin is restarting)
// they stay in doubt.
func (d *Dispatcher) resolveInDoubt(ctx context.Context, provider string, group []*Message) (send []*Message, done []message.Attempt) {
	var doubt []*Message
	for _, m := range group {
		if m.ErrorCode == CodeOutcomeUnknown {
			doubt = append(doubt, m)
		} else {
			send = append(send, m)
		}
	}
	if len(doubt) == 0 {
		return group, nil
	}
	now := d.o.Now()
	keep := func(why string) ([]*Message, []message.Attempt) {
		d.log.Warn("cannot ask the provider about messages whose send went unanswered; asking again later",
			"provider", provider, "messages", len(doubt), "reason", why)
		for _, m := range doubt {
			done = append(done, d.inDoubt(m, provider, now, "the plugin died during Send; not sent again until the provider says whether it took the message: "+why))
		}
		return send, done
	}
	caps, err := d.p.Capabilities(provider)
	if err != nil {
		return keep(err.Error())
	}
	if !caps.SentQuery {
		// The provider lost the capability (a new plugin version): sending
		// again is all that is left, as for any provider without it.
		return append(send, doubt...), nil
	}
	ids := make([]string, len(doubt))
	for i, m := range doubt {
		ids[i] = m.ID
	}
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.o.SendTimeout)
	known, err := d.p.QuerySent(qctx, provider, ids)
	cancel()
	if err != nil {
		return keep(err.Error())
	}
	took := make(map[string]pluginhost.Sent, len(known))
	for _, r := range known {
		took[r.MessageID] = r
	}
	for _, m := range doubt {
		r, ok := took[m.ID]
		if !ok {
			send = append(send, m)
			continue
		}
		if d.o.Metrics != nil {
			d.o.Metrics.Sent(provider, m, now)
		}
		done = append(done, message.Attempt{MessageID: m.ID, Provider: provider, Status: message.Sent,
			ProviderMessageID: r.ProviderMessageID, Candidate: m.Candidate, Code: r.Code, At: now})
	}
	d.log.Info("asked the provider about messages whose send went unanswered", "provider", provider,
		"asked", len(doubt), "taken", len(took), "sending_again", len(doubt)-len(took))
	return send, done
}

// lostAnswer reports whether err says the provider may have taken a batch
// whose answer never came, and the provider can be asked about it later.
func lostAnswer(err error, caps pluginhost.Capabilities) bool {
	return errors.Is(err, pluginhost.ErrOutcomeUnknown) && caps.SentQuery
}
