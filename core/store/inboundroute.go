package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/numbers"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/recordid"
)

// SetInboundRules sets the inbound rules (the config's inbound blocks)
// that decide for messages to numbers nobody holds. Safe to call while
// events are being stored (on a config reload); nil removes them.
func (s *Store) SetInboundRules(r *inbound.Rules) { s.inboundRules.Store(r) }

// inboundRoute is where an inbound message goes.
type inboundRoute struct {
	// accountID owns the message; "" keeps it for admins only.
	accountID string
	// webhook replaces the owner's webhook URL for the message's events.
	webhook string
	// number is the number as the inventory writes it (the recipient as
	// reported when it is not in the inventory).
	number string
	// extract says to look for a one-time code in the text.
	extract bool
}

// routeInbound decides who owns in: the holder of its number (also during
// the quarantine after a lease), else the first inbound rule that claims
// it, else, for numbers outside the inventory, the account_sender_ids
// owner or the first account (the behaviour before the inventory). A
// number of the inventory that nobody holds and no rule claims belongs to
// nobody.
func (s *Store) routeInbound(tx *gorm.DB, provider string, in *inbound.Message) (inboundRoute, error) {
	n, inInventory, err := inventoryOwner(tx, in.Recipient)
	if err != nil {
		return inboundRoute{}, err
	}
	holder := numbers.OwnerOf(n)
	var dec inbound.Decision
	if rules := s.inboundRules.Load(); rules.Len() > 0 {
		dec = rules.Decide(inboundEnv(provider, in, n, inInventory))
	}
	r := inboundRoute{accountID: holder, webhook: dec.Webhook, number: in.Recipient}
	if inInventory {
		r.number = n.E164
	}
	switch {
	case r.accountID != "":
	case dec.Account != "":
		r.accountID, err = s.accountNamed(tx, dec.Account, dec.Rule)
	case !inInventory:
		r.accountID, err = s.inboundAccount(tx, in.Recipient)
	}
	switch dec.ExtractOTP {
	case inbound.OTPExtract:
		r.extract = true
	case inbound.OTPDefault:
		r.extract = inInventory
	}
	r.extract = r.extract && r.accountID != ""
	return r, err
}

// inboundEnv is what the inbound rules see of in, to number n of the
// inventory (when inInventory).
func inboundEnv(provider string, in *inbound.Message, n numbers.Number, inInventory bool) inbound.Env {
	return inbound.EnvOf(provider, in, inbound.NumberFacts{InInventory: inInventory, Held: numbers.OwnerOf(n) != "",
		Country: n.Country, Operator: n.Operator})
}

// ExplainInbound says what the inbound rules would decide for in, received
// by provider now, with the inventory as it is: nothing is stored.
func (s *Store) ExplainInbound(ctx context.Context, provider string, in *inbound.Message) (inbound.Explanation, error) {
	var rows []PhoneNumber
	if err := s.db.WithContext(ctx).Where("e164 IN ?", recipientForms(in.Recipient)).Limit(1).Find(&rows).Error; err != nil {
		return inbound.Explanation{}, fmt.Errorf("look up number %s in the inventory: %w", in.Recipient, err)
	}
	var n numbers.Number
	if len(rows) > 0 {
		n = rows[0].domain()
	}
	return s.inboundRules.Load().Explain(inboundEnv(provider, in, n, len(rows) > 0)), nil
}

// accountNamed is the id of the account a rule names, "" (the message
// kept for admins) when there is no such account: delivering it to some
// other account instead would hand one tenant's messages to another.
func (s *Store) accountNamed(tx *gorm.DB, name, rule string) (string, error) {
	if id, ok := s.accountIDs.Load(name); ok {
		return id.(string), nil
	}
	var acc Account
	err := tx.Select("id").Where("name = ?", name).Take(&acc).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		s.log.Warn("inbound rule names an account that does not exist; the message is kept for admins only", "rule", rule, "account", name)
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("account %q of inbound rule %q: %w", name, rule, err)
	}
	s.accountIDs.Store(name, acc.ID)
	return acc.ID, nil
}

// storeInbound keeps an inbound message inside tx and enqueues its
// webhooks for its owner: message.received, and otp_received with
// otp.received when a code is looked for and found.
func (s *Store) storeInbound(tx *eventTx, provider string, in *inbound.Message) error {
	at := in.ReceivedAt
	if at.IsZero() {
		at = time.Now()
	}
	r, err := s.routeInbound(tx.DB, provider, in)
	if err != nil {
		return err
	}
	msg := InboundMessage{ID: recordid.Ordered("in_", s.now()), AccountID: r.accountID, Provider: provider, ProviderMessageID: in.ProviderMessageID,
		Sender: in.Sender, Recipient: in.Recipient, Text: in.Text, ReceivedAt: at.UTC()}
	if err := tx.Create(&msg).Error; err != nil {
		return err
	}
	if r.accountID == "" {
		return nil
	}
	var hook Webhook
	err = tx.Where("account_id = ?", r.accountID).Take(&hook).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil // no webhook configuration: nothing to sign with
	}
	if err != nil {
		return fmt.Errorf("webhook of account %s for inbound message %s: %w", r.accountID, msg.ID, err)
	}
	if err := enqueueWebhookTo(tx, hook, "", r.webhook, outbox.EventMessageReceived, InboundEventData{MessageID: msg.ID, From: msg.Sender,
		To: msg.Recipient, Text: msg.Text, Provider: provider, ProviderMessageID: msg.ProviderMessageID, ReceivedAt: msg.ReceivedAt}, msg.ReceivedAt); err != nil {
		return err
	}
	if !r.extract {
		return nil
	}
	code, ok := s.findCode(in.Text, in.Sender)
	if !ok {
		return nil
	}
	if err := enqueueWebhookTo(tx, hook, "", r.webhook, outbox.EventOTPReceived, OTPReceivedEvent{Event: string(outbox.EventOTPReceived),
		Data: OTPReceivedData{PhoneNumber: r.number, OTPCode: code, Provider: provider, SMSText: in.Text}}, msg.ReceivedAt); err != nil {
		return err
	}
	return enqueueWebhookTo(tx, hook, "", r.webhook, outbox.EventOTPCode, OTPEventData{MessageID: msg.ID, From: msg.Sender, To: r.number,
		Code: code, Text: msg.Text, Provider: provider, ProviderMessageID: msg.ProviderMessageID, ReceivedAt: msg.ReceivedAt}, msg.ReceivedAt)
}
