package provider

import "time"

// DeviceKind is what a device is: a phone or a modem port.
type DeviceKind string

// The kinds of device; the strings are those the admin API shows, spelled
// as the plugin protocol's (sdk.DeviceKind), which they mirror by design:
// the host's vocabulary, kept in step by core/pluginhost's conversion tests.
const (
	// DevicePhone is a phone running a gateway app.
	DevicePhone DeviceKind = "phone"
	// DeviceModemPort is one port (one SIM) of a GSM modem or modem pool.
	DeviceModemPort DeviceKind = "modem_port"
)

// Registration is a SIM's registration with its mobile network.
type Registration string

// The registration states, mirroring the protocol's (sdk.Registration); the
// zero value means not reported.
const (
	RegistrationUnknown       Registration = ""
	RegistrationHome          Registration = "home"
	RegistrationRoaming       Registration = "roaming"
	RegistrationSearching     Registration = "searching"
	RegistrationDenied        Registration = "denied"
	RegistrationNotRegistered Registration = "not_registered"
)

// Device is a phone or modem port of a provider as operators see it.
// Fields a kind of device does not report stay zero: a phone has SIMs and
// Battery, a modem port has IMEI, IMSI, Signal and Registration.
type Device struct {
	// ID identifies the device within its provider; revoking takes it.
	ID string
	// Name is what operators call it (the phone's name, the port's device path).
	Name string
	Kind DeviceKind
	// Online: the device can take messages now.
	Online bool
	// LastSeen is when the device was last heard from; zero: never.
	LastSeen time.Time
	// Battery is the charge in percent, when the device reports it.
	Battery  *int
	Charging bool
	// InFlight is how many messages the device holds and has not reported on.
	InFlight int
	// SentToday is how many messages the device sent since midnight UTC.
	SentToday int
	SIMs      []SIM
	// IMEI and IMSI identify a modem and its SIM, when read.
	IMEI string
	IMSI string
	// Operator and Country (ISO 3166 alpha-2) are the network of a device
	// with one SIM; a phone's are per SIM.
	Operator string
	Country  string
	// Signal is the received signal strength in dBm, when known.
	Signal       *int
	Registration Registration
	// Detail says more for operators ("ready", "2 streams").
	Detail string
}

// SIM is a SIM card of a device.
type SIM struct {
	// Slot is the SIM's slot on the device, from 1.
	Slot int
	// Number is the SIM's number in E.164, when known.
	Number string
	// Operator is the SIM's network operator as the numbering plan names it.
	Operator string
	// Country is the ISO 3166 alpha-2 country of the SIM's network.
	Country string
}
