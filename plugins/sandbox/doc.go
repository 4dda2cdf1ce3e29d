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
