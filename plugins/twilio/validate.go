package twilio

import (
	"context"

	"github.com/smsrouter/smsrouter/sdk"
)

var _ sdk.SettingsValidator = (*Provider)(nil)

// ValidateSettings checks settings as Configure does, without connecting to
// Twilio, for smsrouter config validate.
func (p *Provider) ValidateSettings(_ context.Context, cfg sdk.Config) error {
	_, err := parseSettings(cfg.Settings)
	return err
}
