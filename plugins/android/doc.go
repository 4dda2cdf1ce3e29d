// Package android is the provider plugin for Android phones running the
// open-source "SMS Gateway for Android" app (sms-gate.app) in private-server
// mode: the phones connect to smsrouter, take the messages the plugin
// offers them, send them over their SIMs and report back. Nothing is
// installed on the phone besides the app.
//
// # Connecting a phone
//
// In the app, choose the private server and type
//
//	server URL:     <public_url>/api/v1/providers/<provider name>/hooks/mobile/v1
//	private token:  the provider's private_token
//
// The app appends its own paths to the server URL. Release builds of the
// app speak plain HTTP only to 127.0.0.1: a real phone needs HTTPS, from
// the server's own tls block or a reverse proxy in front of it. The hook
// paths, all under <public_url>/api/v1/providers/<name>/hooks:
//
//	POST   /mobile/v1/device     registration (Bearer private_token) → 201 {id, token, login}
//	PATCH  /mobile/v1/device     the app's start-up update with its SIMs (Bearer device token)
//	GET    /mobile/v1/device     the phone's record
//	GET    /mobile/v1/events     server-sent events: MessageEnqueued, WebhooksUpdated,
//	                             SettingsUpdated; ":keepalive" every keepalive
//	GET    /mobile/v1/message    the messages offered to the phone (?order=lifo), at most 100,
//	                             unpulled first; another MessageEnqueued when more wait
//	PATCH  /mobile/v1/message    per-message states with the cumulative history
//	GET    /mobile/v1/webhooks   where the phone posts its events: <hook URL>/webhook
//	GET    /mobile/v1/settings   the phone's webhook signing key, ping interval and
//	                             notification channel SSE_ONLY (smsrouter sends no pushes)
//	POST   /webhook              the phone's signed webhooks (X-Signature, X-Timestamp):
//	                             sms:received, sms:sent, sms:delivered, sms:failed, system:ping
//	GET    /admin/devices        the phones (Bearer admin_token; off without it)
//	DELETE /admin/devices/{id}   revokes a phone's token
//
// Every call but registration carries the device token the phone got at
// registration; a wrong or missing one is answered 401 (the app then
// registers again). Unknown paths get a 404 JSON answer. On connecting to
// the event stream a phone is told to fetch its webhooks and settings (the
// app fetches neither on its first start otherwise) and to pull.
//
// # Settings
//
// The provider block's config; unknown keys are refused:
//
//	private_token         required  the token phones register with, 16 characters or more;
//	                                pass it with env("...")
//	state_file            optional  absolute path of the file that keeps the registered
//	                                phones across restarts (ids, names, SIMs and the SHA-256
//	                                of each device token; never a token), and beside it
//	                                <state_file>.taken, which phone took which message, so
//	                                reports sent after a restart are recognised. Without it
//	                                phones register again after a restart of the server and
//	                                their later reports about earlier messages are ignored.
//	admin_token           optional  enables GET/DELETE /admin/devices with this Bearer token
//	when_offline          "queue"   (default) a message waits up to the lease for a phone, then
//	                                is answered "No gateway online" and stays pending at the
//	                                host; "refuse": answered "No gateway online" at once
//	lease                 "30s"     how long a phone has to take a message (report Processed)
//	                                before it is taken back and retried; keep it below the
//	                                dispatcher's send_timeout (60s)
//	keepalive             "15s"     interval of the event stream's keep-alive comments
//	ping_interval         "60s"     the phones' system:ping interval; a phone without a live
//	                                event stream counts offline after three intervals
//	rate_limit            25        messages per phone per rate_period (Android itself allows
//	                                an app 30 per minute before it asks the user)
//	rate_period           "60s"
//	sim_rate_limit        0         messages per SIM per rate_period; 0: only the phone's limit
//	delivery_reports      true      ask the phones for delivery reports
//	inbound_dedup_window  "10m"     an SMS received again with the same phone, time, sender and
//	                                text within this window is a duplicate
//	max_phones            50        phones that may register
//	max_batch_size        50        messages per Send
//	phones                []        per phone, by the device name it registers with:
//	                                { name, rate_limit, sims = [{ slot, number, operator,
//	                                country, prefixes = ["+95979"] }] }
//
// # Sending
//
// The host's message table is the only queue. Send offers each message to
// a phone and answers it Accepted, with the host's message id as the
// provider message id, only once the phone reported it Processed (or
// further). The phone is the online one, among those whose SIM prefixes
// fit the destination best, that was used least recently and has room
// under its pacing; the message names the SIM (simNumber) when the phone
// has SIMs. A phone that does not take a message within the lease loses
// it: the message is answered unavailable and the host tries again, here
// (another phone) or elsewhere, and the phone counts as offline until it
// shows life again. When every phone is at its limit the message is
// answered RetryAfter; when none is online, "No gateway online" (see
// when_offline). So a crash of the plugin or of a phone never loses or
// strands a message.
//
// Statuses: Pending and Processed are queued (the host already counts the
// message sent once a phone took it), Sent is sent, Delivered delivered,
// Failed failed with the phone's error, or expired when that error is
// about the TTL. Reports replayed by the phone change nothing; a report
// about a message the phone was not given is logged and ignored.
//
// Health is OK while a phone is online, so routes fail over while none is,
// and asks the host to refuse at accept while down with when_offline =
// "refuse"; its detail lists the phones in a line. The phones themselves
// (online, last seen, battery, SIMs, messages in flight, sent today) are
// reported as devices (sdk.DeviceReporter, revocable), their SIMs' numbers
// as the provider's numbers and the online SIMs' operators and countries
// as its networks; the host shows them in GET /api/v1/admin/providers.
// Each status event of a message is emitted once, however often the phone
// repeats its report.
//
// Received SMS (sms:received) become inbound messages, to the receiving
// SIM's number when known.
package android
