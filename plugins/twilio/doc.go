// Package twilio is the provider plugin for Twilio and Twilio-compatible
// APIs: it sends through the REST Messages resource and turns the signed
// form callbacks the upstream posts to the host's hook URL into status
// events and inbound messages.
//
// Settings (the provider block's config; unknown keys are refused):
//
//	account_sid            required  the account the Messages resource belongs to
//	auth_token             required  HTTP basic password and the key callbacks are signed with;
//	                                 pass it with env("...") rather than writing it in the file
//	secondary_auth_token   optional  also accepted on callbacks, for token rotation
//	base_url               optional  API root (default "https://api.twilio.com")
//	from                   optional  default sender when a message has none
//	messaging_service_sid  optional  sent as MessagingServiceSid; one of from and this,
//	                                 or a sender on every message, is needed
//	validity_period        optional  duration 1s..10h, the longest ValidityPeriod sent
//	request_timeout        optional  per API request, 1s..2m (default 10s)
//	max_batch_size         optional  messages per Send, 1..1000 (default 20)
//	max_concurrency        optional  API requests in flight per Send, 1..100 (default 4)
//	hook_auth              optional  how callbacks are authenticated:
//	                                 "twilio_signature" (default, X-Twilio-Signature),
//	                                 "shared_secret" (header X-Hook-Secret or query
//	                                 parameter "secret" equal to hook_secret, or query
//	                                 parameter "token" equal to CallbackToken, which the
//	                                 StatusCallback URLs handed upstream carry) or "none"
//	hook_secret            with hook_auth = "shared_secret"
//
// Validity: each message is sent with ValidityPeriod set to what is left of
// its own validity (sdk.Message.ValidUntil) in whole seconds, rounded down
// and capped by validity_period and by Twilio's 36000 s, so Twilio stops
// trying when the host reports the message expired. A message without a
// validity is sent with validity_period, or with none (Twilio's default,
// 10 h) when that is unset. A message with less than a second left when its
// request is due is not sent: it is answered sdk.Expired (code EXPIRED),
// and the host records it expired.
//
// Hooks, under the provider's hook URL:
//
//	/status                 Twilio status callback (MessageSid, MessageStatus or SmsStatus, ErrorCode)
//	/delivery-notification  the same, in the connector shape (MessageSid, SmsStatus)
//	/receive                inbound message (From, To, Body, MessageSid, SmsMessageSid or SmsSid),
//	                        answered with empty TwiML
//
// A callback that fails authentication is answered 403 and changes nothing.
// hook_auth covers every hook of the provider: a provider block is one
// upstream, and either it signs like Twilio (the connector shape posted by
// Twilio itself is signed too) or it is a gateway without a Twilio account,
// which can be given a shared secret instead.
//
// Health asks for the account resource, Balance reads Balance.json and
// QueryStatus fetches Messages/{sid}.json, so the host's status poller can
// recover reports from callbacks Twilio never retried.
// Twilio takes one message per request, so a batch is sent as concurrent
// requests, at most max_concurrency at a time.
package twilio
