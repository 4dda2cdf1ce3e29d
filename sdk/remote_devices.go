package sdk

import (
	"context"

	"github.com/smsrouter/smsrouter/sdk/internal/pluginpb"
)

// The host's side of the device, number, network and tuning capabilities.

func (r *remoteProvider) Numbers(ctx context.Context) ([]ReceivingNumber, error) {
	if err := r.check("numbers", r.Capabilities().Numbers); err != nil {
		return nil, err
	}
	resp, err := r.rpc.Numbers(ctx, &pluginpb.NumbersRequest{})
	if err != nil {
		return nil, r.classify(ctx, "numbers", err)
	}
	return numbersFromPB(resp.GetNumbers()), nil
}

func (r *remoteProvider) Devices(ctx context.Context) ([]Device, error) {
	if err := r.check("devices", r.Capabilities().Devices); err != nil {
		return nil, err
	}
	resp, err := r.rpc.Devices(ctx, &pluginpb.DevicesRequest{})
	if err != nil {
		return nil, r.classify(ctx, "devices", err)
	}
	return devicesFromPB(resp.GetDevices()), nil
}

func (r *remoteProvider) RevokeDevice(ctx context.Context, id string) error {
	if err := r.check("revoke device", r.Capabilities().Revoke); err != nil {
		return err
	}
	if _, err := r.rpc.RevokeDevice(ctx, &pluginpb.RevokeDeviceRequest{Id: id}); err != nil {
		return r.classify(ctx, "revoke device", err)
	}
	return nil
}

func (r *remoteProvider) Networks(ctx context.Context) (Networks, error) {
	if err := r.check("networks", r.Capabilities().Networks); err != nil {
		return Networks{}, err
	}
	resp, err := r.rpc.Networks(ctx, &pluginpb.NetworksRequest{})
	if err != nil {
		return Networks{}, r.classify(ctx, "networks", err)
	}
	return Networks{Operators: resp.GetOperators(), Countries: resp.GetCountries()}, nil
}

func (r *remoteProvider) Tune(ctx context.Context, changes map[string]string) (map[string]string, error) {
	if err := r.check("tune", r.Capabilities().Tune); err != nil {
		return nil, err
	}
	resp, err := r.rpc.Tune(ctx, &pluginpb.TuneRequest{Changes: changes})
	if err != nil {
		return nil, r.classify(ctx, "tune", err)
	}
	values := resp.GetValues()
	if values == nil {
		values = map[string]string{}
	}
	return values, nil
}
