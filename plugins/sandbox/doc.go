// Package sandbox is a simulated SMS provider whose latency, failures and
// delivery reports are set by configuration and decided deterministically
// from a seed and each message id, for demos, tests and load runs without an
// upstream.
//
// Settings (the provider block's config; every key is optional, unknown keys
// are refused):
//
//	accept_latency  duration, 0s..1m    how long each Send call takes (default 0s)
//	failure_ratio   0..1                share of messages answered Temporary "THROTTLED"
//	reject_ratio    0..1                share answered Permanent "REJECTED"
//	                                    (failure_ratio + reject_ratio ≤ 1)
//	delivery_ratio  0..1                share of accepted messages reported delivered;
//	                                    the rest undeliverable with a network error code (default 1)
//	dlr_delay       duration, 0s..24h   from acceptance to the delivery report (default 1s)
//	balance         {amount, currency}  what Balance reports (default 100 USD)
//	sender_ids      list of strings     what SenderIDs reports; up to six digits is a
//	                                    short code, a leading + a number, else a name
//	seed            integer             decides every fate, with the message id
//	max_batch_size  1..10000            most messages per Send (default 100)
//	reject_numbers  list of E.164       destinations always answered Permanent
//	                                    "INVALID_DESTINATION"
//	receipts_dir    absolute path       keep provider-side receipts there (see below)
//	dedupe_by_message_id  bool          answer a message sent again with the provider id
//	                                    it was first accepted under, across every process
//	                                    sharing receipts_dir (needs receipts_dir; default false)
//	outbox_size     0..10000            latest accepted messages kept for Outbox (default 100;
//	                                    0 keeps none)
//
// Tune (sdk.Tuner; POST /api/v1/admin/providers/NAME/tune, smsrouter
// providers tune NAME key=value) changes a running sandbox until it is
// configured again, to rehearse failover: failure_ratio, reject_ratio,
// delivery_ratio, accept_latency, dlr_delay, balance (the amount), health
// ("up" or "down": down, Health reports the link down and Send answers
// every message Unavailable, as in an outage) and refuse_while_down (while
// down, the host refuses messages with no other provider at accept).
//
// The outbox is the sandbox's mail catcher: the latest messages it accepted
// (a message sent again is kept once), with the sender used (the message's,
// else the first of sender_ids), newest first, in memory only. The host
// shows it to admins (GET /api/v1/admin/providers/NAME/outbox, smsrouter
// outbox), never on the provider's hook URL, so developers can read the code
// an OTP carried and complete the verify flow locally.
//
// Receipts are the sandbox's own books, for tests that check what the
// provider really took. With receipts_dir set, every acceptance is appended
// to a file of the process's own in that directory (receipts-<pid>-….jsonl,
// one JSON line per message: our message id, the provider id, the time,
// whether it was a repeat) before Send answers, so a receipt exists for
// every acceptance whatever is killed afterwards, and several sandbox
// processes (two hosts, or a host and its restarted successor) can share
// the directory. ReadReceipts merges them. A message accepted twice without
// "repeat" went out twice.
//
// dedupe_by_message_id behaves like a provider that honours a client
// reference or idempotency key: the first process to accept a message
// claims its id in receipts_dir (a file per message id, linked into place
// atomically), and any later Send of it, from any process, gets that
// provider id back, is receipted as a repeat and gets no second delivery.
// Without it, only the process that accepted a message remembers it, so a
// message re-sent after that process died is sent again.
//
// A message's fate is a hash of the seed, its id and how often it was
// throttled before, so the same seed and ids give the same outcomes however
// the messages are batched or interleaved, and a throttled message retried
// later gets a fresh draw. Accepted messages get ids "sbx-<hex>-<attempt>-<time>-<message id>" and exactly
// one final status event each, dlr_delay after acceptance; a message sent
// again after it was accepted gets the same answer and no second report.
// QueryStatus answers for ids issued by an earlier process too (same seed), as
// a real upstream would after the plugin restarted.
package sandbox
