package sdk

import (
	"context"

	"github.com/smsrouter/smsrouter/sdk/internal/pluginpb"
)

// The plugin's side of the device, number, network and tuning capabilities.

func (s *server) Numbers(ctx context.Context, _ *pluginpb.NumbersRequest) (*pluginpb.NumbersResponse, error) {
	nl, ok := s.p.(NumberLister)
	if !ok {
		return nil, unimplemented("NumberLister")
	}
	nums, err := nl.Numbers(ctx)
	if err != nil {
		return nil, providerStatus(err)
	}
	return &pluginpb.NumbersResponse{Numbers: numbersToPB(nums)}, nil
}

func (s *server) Devices(ctx context.Context, _ *pluginpb.DevicesRequest) (*pluginpb.DevicesResponse, error) {
	dr, ok := s.p.(DeviceReporter)
	if !ok {
		return nil, unimplemented("DeviceReporter")
	}
	devs, err := dr.Devices(ctx)
	if err != nil {
		return nil, providerStatus(err)
	}
	return &pluginpb.DevicesResponse{Devices: devicesToPB(devs)}, nil
}

func (s *server) RevokeDevice(ctx context.Context, req *pluginpb.RevokeDeviceRequest) (*pluginpb.RevokeDeviceResponse, error) {
	dr, ok := s.p.(DeviceRevoker)
	if !ok {
		return nil, unimplemented("DeviceRevoker")
	}
	if err := dr.RevokeDevice(ctx, req.GetId()); err != nil {
		return nil, providerStatus(err)
	}
	return &pluginpb.RevokeDeviceResponse{}, nil
}

func (s *server) Networks(ctx context.Context, _ *pluginpb.NetworksRequest) (*pluginpb.NetworksResponse, error) {
	nr, ok := s.p.(NetworkReporter)
	if !ok {
		return nil, unimplemented("NetworkReporter")
	}
	n, err := nr.Networks(ctx)
	if err != nil {
		return nil, providerStatus(err)
	}
	return &pluginpb.NetworksResponse{Operators: n.Operators, Countries: n.Countries}, nil
}

func (s *server) Tune(ctx context.Context, req *pluginpb.TuneRequest) (*pluginpb.TuneResponse, error) {
	t, ok := s.p.(Tuner)
	if !ok {
		return nil, unimplemented("Tuner")
	}
	values, err := t.Tune(ctx, req.GetChanges())
	if err != nil {
		return nil, providerStatus(err)
	}
	return &pluginpb.TuneResponse{Values: values}, nil
}
