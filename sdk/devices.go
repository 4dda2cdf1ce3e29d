package sdk

import (
	"context"
	"errors"
	"time"
)

// DeviceReporter is implemented by providers that send through devices of
// their own (the phones of an Android gateway, the ports of a modem pool):
// the host shows them to operators (GET /api/v1/admin/providers,
// `smsrouter devices list`).
type DeviceReporter interface {
	// Devices returns every device the provider knows, online or not, in a
	// stable order (by name, then id). It must not block on a device.
	Devices(ctx context.Context) ([]Device, error)
}

// DeviceRevoker is implemented by providers whose devices hold credentials
// the provider issued (an Android phone's token): revoking one makes the
// device register again before it can take messages.
type DeviceRevoker interface {
	// RevokeDevice forgets the device with the given id and its token. An
	// id the provider does not know is answered with an error wrapping
	// ErrDeviceNotFound.
	RevokeDevice(ctx context.Context, id string) error
}

// Tuner is implemented by providers whose behaviour can be changed while
// they run, for tests and failover rehearsals (the sandbox's health,
// balance, failure ratios, latency). Changes last until the provider is
// configured again (a restart or a reload that changes its settings).
type Tuner interface {
	// Tune applies changes, a map from tunable name to its value as text
	// (the names and forms of the provider's settings, e.g.
	// "failure_ratio" = "0.5", "accept_latency" = "200ms"), all or none:
	// an unknown name or a bad value is answered with an error wrapping
	// ErrInvalidTune that names it, and nothing changes. It returns every
	// tunable with its value after the change, so an empty map only reads
	// them.
	Tune(ctx context.Context, changes map[string]string) (map[string]string, error)
}

// NetworkReporter is implemented by providers that send through SIMs of
// their own and so reach some networks only (phones, modem ports): routing
// sees what it reports as the candidate facts provider_operators and
// provider_countries, so a rule can keep a message on its recipient's
// network (docs/routing.md). The host asks whenever it checks health.
type NetworkReporter interface {
	// Networks returns the networks the provider can send on now: those
	// of its devices that are online (registered ports, connected phones).
	Networks(ctx context.Context) (Networks, error)
}

// Networks are the mobile networks a provider can send on now.
type Networks struct {
	// Operators are operator names as the numbering plan names them (the
	// names routing's operator fact takes), each once.
	Operators []string
	// Countries are ISO 3166 alpha-2 codes ("MM"), each once.
	Countries []string
}

// ErrDeviceNotFound is wrapped by RevokeDevice's error for an id the
// provider does not know. It survives the plugin protocol.
var ErrDeviceNotFound = errors.New("no such device")

// ErrInvalidTune is wrapped by Tune's error for an unknown tunable or a bad
// value. It survives the plugin protocol.
var ErrInvalidTune = errors.New("invalid tunable")

// DeviceKind says what a Device is.
type DeviceKind string

// The kinds of device.
const (
	// DevicePhone is a phone running a gateway app.
	DevicePhone DeviceKind = "phone"
	// DeviceModemPort is one port (one SIM) of a GSM modem or modem pool.
	DeviceModemPort DeviceKind = "modem_port"
)

// Registration is a SIM's registration with its mobile network (+CREG).
type Registration string

// The registration states; the zero value means not reported.
const (
	RegistrationUnknown       Registration = ""
	RegistrationHome          Registration = "home"
	RegistrationRoaming       Registration = "roaming"
	RegistrationSearching     Registration = "searching"
	RegistrationDenied        Registration = "denied"
	RegistrationNotRegistered Registration = "not_registered"
)

// Registered reports whether the SIM can send: home or roaming.
func (r Registration) Registered() bool {
	return r == RegistrationHome || r == RegistrationRoaming
}

// Device is a phone or modem port as operators see it. Fields a kind of
// device does not report stay zero: a phone has SIMs and Battery, a modem
// port has IMEI, IMSI, Signal and Registration.
type Device struct {
	// ID identifies the device within its provider; RevokeDevice takes it.
	ID string
	// Name is what operators call it (the phone's name, the port's device path).
	Name string
	Kind DeviceKind
	// Online: the device can take messages now (a phone connected or seen
	// recently, a port open and registered).
	Online bool
	// LastSeen is when the device was last heard from; zero: never.
	LastSeen time.Time
	// Battery is the charge in percent, when the device reports it.
	Battery *int
	// Charging: the device said it is on power.
	Charging bool
	// InFlight is how many messages the device holds and has not reported on.
	InFlight int
	// SentToday is how many messages the device sent since midnight UTC.
	SentToday int
	// SIMs are the device's SIM cards (one for a modem port).
	SIMs []DeviceSIM
	// IMEI and IMSI identify a modem and its SIM, when read.
	IMEI string
	IMSI string
	// Operator and Country (ISO 3166 alpha-2) are the network the device is
	// on, for a device with one SIM; a phone's are per SIM.
	Operator string
	Country  string
	// Signal is the received signal strength in dBm, when known.
	Signal *int
	// Registration is the SIM's registration with its network.
	Registration Registration
	// Detail says more for operators: "ready", "down: no answer to AT
	// (retry in 8s)", "2 streams".
	Detail string
}

// DeviceSIM is a SIM card of a device.
type DeviceSIM struct {
	// Slot is the SIM's slot on the device, from 1.
	Slot int
	// Number is the SIM's number in E.164, when known.
	Number string
	// Operator is the SIM's network operator, as the numbering plan names
	// it (the name routing rules compare `operator` with).
	Operator string
	// Country is the ISO 3166 alpha-2 country of the SIM's network.
	Country string
}
