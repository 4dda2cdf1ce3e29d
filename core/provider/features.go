package provider

// Features is what a running provider's plugin says of itself at start:
// its kind and version, the most messages one send takes, and which
// optional parts of the plugin protocol it offers. Operators read it (the
// admin API's "capabilities"); the dispatcher needs less and reads
// pluginhost.Capabilities.
type Features struct {
	// Plugin is the plugin kind ("smpp", "sandbox"), as the plugin names itself.
	Plugin       string
	Version      string
	MaxBatchSize int

	Events             bool // streams reports and inbound messages
	Hooks              bool // answers requests to the provider's hook URL
	Health             bool // reports its health
	Balance            bool // reports its account's credit
	SenderIDs          bool // lists the senders its account may use
	StatusQuery        bool // can be asked about sent messages
	Outbox             bool // keeps the messages it took (the sandbox)
	SentQuery          bool // can be asked whether it took messages whose answer was lost
	Numbers            bool // lists the numbers it receives on
	Devices            bool // lists its phones or modem ports
	RevokeDevice       bool // forgets a device and its token
	Tune               bool // changes tunables while it runs
	Networks           bool // says which networks it can send on now
	SettingsValidation bool // checks its settings before it starts
}
