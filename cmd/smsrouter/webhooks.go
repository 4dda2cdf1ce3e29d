package main

import (
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/egress"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/webhook"
)

// webhookPollInterval bounds how long an event waits in the outbox when
// nothing wakes the deliverer. The store wakes it after committing events
// this process wrote; the poll finds those another server wrote while its
// own deliverer was busy or gone, and leases that ran out.
const webhookPollInterval = 200 * time.Millisecond

// newWebhooks returns the deliverer of the applications' webhooks, handed
// the events the store writes and woken for those it could not take.
func newWebhooks(st *store.Store, allowed *egress.Policy, log hclog.Logger, obs webhook.Observer) *webhook.Deliverer {
	d := webhook.New(st, webhook.Options{Logger: log, PollInterval: webhookPollInterval, Observer: obs, Egress: allowed})
	// Events this process writes go straight to its deliverer while it
	// runs (a node of role api runs none: Room is then 0), and it is woken
	// for those it could not take.
	st.HandOffWebhooks(d)
	return d
}

// webhookEgress is the webhooks block's policy: which addresses webhook
// URLs may point to, checked when they are set and when they are dialled.
func webhookEgress(w config.Webhooks, log hclog.Logger) *egress.Policy {
	if w.AllowPrivate {
		log.Warn("webhooks may go to any address, loopback, private networks and the cloud metadata service included (webhooks { allow_private = true })")
	}
	return egress.New(egress.Options{AllowPrivate: w.AllowPrivate, Allowed: w.AllowedNetworks})
}

// inboundOwners maps each account sender ID to its account's name. A number
// listed for several accounts goes to the first name in alphabetical order,
// so that the choice does not change between restarts.
func inboundOwners(api config.API, log hclog.Logger) map[string]string {
	names := make([]string, 0, len(api.AccountSenderIDs))
	for name := range api.AccountSenderIDs {
		names = append(names, name)
	}
	slices.Sort(names)
	out := map[string]string{}
	for _, name := range names {
		for _, id := range api.AccountSenderIDs[name] {
			if prev, ok := out[id]; ok {
				log.Warn("sender ID listed for two accounts; its inbound messages go to the first", "sender_id", id, "account", prev, "also", name)
				continue
			}
			out[id] = name
		}
	}
	return out
}
