package config

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/smsrouter/smsrouter/core/egress"
	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/routing"
)

var inboundSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "match", Required: true}, {Name: "account"}, {Name: "extract_otp"}, {Name: "webhook"},
}}

// inboundBlock decodes one inbound block; ok is false when it reported an
// error.
func (d *decoder) inboundBlock(b *hcl.Block) (inbound.RuleConfig, bool) {
	rc := inbound.RuleConfig{Name: b.Labels[0], Range: b.DefRange}
	content, diags := b.Body.Content(inboundSchema)
	d.diags = append(d.diags, diags...)
	ok := !diags.HasErrors()
	if a := content.Attributes["match"]; a != nil {
		r, rok := d.rule(a)
		rc.Match, ok = r, ok && rok
	}
	if a := content.Attributes["account"]; a != nil {
		v, vok := d.str(a)
		if vok && v == "" {
			d.errorf(a.Expr.Range(), "Empty account", "inbound %q: account must name an account, or be left out", rc.Name)
			vok = false
		}
		rc.Account, ok = v, ok && vok
	}
	if a := content.Attributes["extract_otp"]; a != nil {
		v, vok := d.boolean(a)
		rc.ExtractOTP = inbound.OTPSkip
		if v {
			rc.ExtractOTP = inbound.OTPExtract
		}
		ok = ok && vok
	}
	if a := content.Attributes["webhook"]; a != nil {
		v, vok := d.str(a)
		rc.Webhook, ok = v, ok && vok
		d.inboundHooks = append(d.inboundHooks, inboundHook{name: rc.Name, url: v, at: a.Expr.Range()})
	}
	return rc, ok
}

// inboundHook is an inbound rule's own webhook URL, checked once the
// webhooks block and its environment variable are read.
type inboundHook struct {
	name, url string
	at        hcl.Range
}

// checkInboundWebhooks refuses rule webhooks the egress policy would
// refuse at every delivery: the operator learns it at validate time, not
// from a delivery log.
func (d *decoder) checkInboundWebhooks(w Webhooks) {
	policy := egress.New(egress.Options{AllowPrivate: w.AllowPrivate, Allowed: w.AllowedNetworks})
	for _, h := range d.inboundHooks {
		if err := egress.CheckURL(h.url, policy); err != nil {
			d.errorf(h.at, "Invalid webhook", "inbound %q: the webhook %v", h.name, err)
		}
	}
}

// compileInbound compiles the decoded inbound blocks into cfg.Inbound.
func (d *decoder) compileInbound(cfg *Config) {
	rules, err := inbound.Compile(cfg.InboundRules)
	if ce, ok := err.(*routing.CompileError); ok {
		d.diags = append(d.diags, ce.Diagnostics...)
		return
	}
	cfg.Inbound = rules
}
