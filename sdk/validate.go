package sdk

import (
	"context"
	"errors"

	"github.com/smsrouter/smsrouter/sdk/internal/pluginpb"
)

// SettingsValidator is implemented by providers that can check their
// settings without connecting anywhere. `smsrouter config validate` starts
// each configured plugin and asks it, so that an operator learns of a
// misspelt or out-of-range setting, with its file and line, before the
// server runs; plugins without it are reported as "not checked".
type SettingsValidator interface {
	// ValidateSettings checks cfg.Settings as Configure would and returns
	// every problem found, each a *SettingsError naming its setting (join
	// several with errors.Join; DecodeSettings's errors are such), or nil.
	// It must not connect anywhere, start goroutines or keep anything: the
	// host asks processes that it never configures, and with several
	// configs one after the other.
	ValidateSettings(ctx context.Context, cfg Config) error
}

var _ SettingsValidator = (*remoteProvider)(nil)

// ValidateSettings asks the plugin to check cfg's settings. The answer's
// problems come back as *SettingsError values joined into one error; an
// error wrapping ErrUnsupported means the plugin cannot check settings.
func (r *remoteProvider) ValidateSettings(ctx context.Context, cfg Config) error {
	if err := r.check("validate settings", r.Capabilities().SettingsValidation); err != nil {
		return err
	}
	resp, err := r.rpc.ValidateSettings(ctx, &pluginpb.ConfigureRequest{Name: cfg.Name, Settings: cfg.Settings, HookUrl: cfg.HookURL})
	if err != nil {
		return r.classify(ctx, "validate settings", err)
	}
	problems := make([]error, len(resp.GetProblems()))
	for i, p := range resp.GetProblems() {
		problems[i] = &SettingsError{Field: p.GetSetting(), Err: errors.New(p.GetMessage())}
	}
	return errors.Join(problems...)
}

// ValidateSettings is the plugin side: a problem the provider found is an
// answer, so that the host can tell it from a broken call.
func (s *server) ValidateSettings(ctx context.Context, req *pluginpb.ConfigureRequest) (*pluginpb.ValidateSettingsResponse, error) {
	v, ok := s.p.(SettingsValidator)
	if !ok {
		return nil, unimplemented("SettingsValidator")
	}
	err := v.ValidateSettings(ctx, Config{Name: req.GetName(), Settings: req.GetSettings(), HookURL: req.GetHookUrl(), Logger: s.logger})
	return &pluginpb.ValidateSettingsResponse{Problems: settingProblems(err)}, nil
}

// settingProblems flattens an error, joined or not, into one problem per
// *SettingsError; other errors are problems of the settings as a whole.
func settingProblems(err error) []*pluginpb.SettingProblem {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*pluginpb.SettingProblem
		for _, e := range joined.Unwrap() {
			out = append(out, settingProblems(e)...)
		}
		return out
	}
	var se *SettingsError
	if errors.As(err, &se) {
		return []*pluginpb.SettingProblem{{Setting: se.Field, Message: se.Err.Error()}}
	}
	return []*pluginpb.SettingProblem{{Message: err.Error()}}
}
