package sdk

import "github.com/smsrouter/smsrouter/sdk/internal/pluginpb"

func numbersToPB(nums []ReceivingNumber) []*pluginpb.ReceivingNumber {
	out := make([]*pluginpb.ReceivingNumber, len(nums))
	for i, n := range nums {
		out[i] = &pluginpb.ReceivingNumber{Number: n.Number, Country: n.Country, CanSend: n.CanSend}
	}
	return out
}

func numbersFromPB(nums []*pluginpb.ReceivingNumber) []ReceivingNumber {
	out := make([]ReceivingNumber, len(nums))
	for i, n := range nums {
		out[i] = ReceivingNumber{Number: n.GetNumber(), Country: n.GetCountry(), CanSend: n.GetCanSend()}
	}
	return out
}

func devicesToPB(devs []Device) []*pluginpb.Device {
	out := make([]*pluginpb.Device, len(devs))
	for i, d := range devs {
		out[i] = &pluginpb.Device{
			Id: d.ID, Name: d.Name, Kind: string(d.Kind), Online: d.Online, LastSeen: timeToPB(d.LastSeen),
			Battery: optionalToPB(d.Battery), Charging: d.Charging,
			InFlight: int32(d.InFlight), SentToday: int32(d.SentToday), Sims: simsToPB(d.SIMs),
			Imei: d.IMEI, Imsi: d.IMSI, Operator: d.Operator, Country: d.Country,
			Signal: optionalToPB(d.Signal), Registration: string(d.Registration), Detail: d.Detail,
		}
	}
	return out
}

func devicesFromPB(devs []*pluginpb.Device) []Device {
	out := make([]Device, len(devs))
	for i, d := range devs {
		out[i] = Device{
			ID: d.GetId(), Name: d.GetName(), Kind: DeviceKind(d.GetKind()), Online: d.GetOnline(),
			LastSeen: timeFromPB(d.GetLastSeen()), Battery: optionalFromPB(d.Battery), Charging: d.GetCharging(),
			InFlight: int(d.GetInFlight()), SentToday: int(d.GetSentToday()), SIMs: simsFromPB(d.GetSims()),
			IMEI: d.GetImei(), IMSI: d.GetImsi(), Operator: d.GetOperator(), Country: d.GetCountry(),
			Signal: optionalFromPB(d.Signal), Registration: Registration(d.GetRegistration()), Detail: d.GetDetail(),
		}
	}
	return out
}

func simsToPB(sims []DeviceSIM) []*pluginpb.DeviceSIM {
	if len(sims) == 0 {
		return nil
	}
	out := make([]*pluginpb.DeviceSIM, len(sims))
	for i, s := range sims {
		out[i] = &pluginpb.DeviceSIM{Slot: int32(s.Slot), Number: s.Number, Operator: s.Operator, Country: s.Country}
	}
	return out
}

func simsFromPB(sims []*pluginpb.DeviceSIM) []DeviceSIM {
	if len(sims) == 0 {
		return nil
	}
	out := make([]DeviceSIM, len(sims))
	for i, s := range sims {
		out[i] = DeviceSIM{Slot: int(s.GetSlot()), Number: s.GetNumber(), Operator: s.GetOperator(), Country: s.GetCountry()}
	}
	return out
}

// optionalToPB and optionalFromPB carry an optional small integer (a
// battery percentage, a signal in dBm), nil meaning not reported.
func optionalToPB(v *int) *int32 {
	if v == nil {
		return nil
	}
	n := int32(*v)
	return &n
}

func optionalFromPB(v *int32) *int {
	if v == nil {
		return nil
	}
	n := int(*v)
	return &n
}
