// Package smpp is the SMPP 3.4 provider plugin: it submits messages to an
// SMSC over windowed, self-reconnecting binds and turns the SMSC's
// deliver_sm into delivery reports and inbound messages.
//
// It is built on github.com/linxGnu/gosmpp's pdu and data packages (the PDU
// codec and character sets) with a session layer of its own, because
// gosmpp's session answers every request inside its reader loop: a
// deliver_sm_resp could not wait for the host to store the receipt without
// also stalling the submit_sm_resp behind it.
//
// Settings (the provider block's config; unknown keys are refused):
//
//	host, port              the SMSC (port defaults to 2775)
//	tls, tls_skip_verify    TLS on the connection (default off)
//	system_id, password     credentials (≤15 and ≤8 characters)
//	system_type             often empty
//	bind_mode               "transceiver" (default) or "transmitter_receiver"
//	binds                   binds (or TX+RX pairs) to open, 1..32 (default 1)
//	window                  submits in flight per bind, 1..1000 (default 10)
//	tps                     submits per second for the whole account, 0 = no limit
//	enquire_link            keepalive on an idle link (default "30s")
//	response_timeout        longest wait for any answer before the bind is
//	                        dropped and its submits re-sent (default "10s")
//	reconnect_backoff(_max) first and longest wait between bind attempts
//	                        ("1s", "1m"); wrong credentials wait the longest
//	queue_timeout           how long Send waits for binds, window and answers
//	                        before answering Temporary (default "30s")
//	default_data_coding     "gsm7" (data_coding 0, unpacked) or "latin1"
//	                        (data_coding 3 for Latin-1 text outside GSM 03.38)
//	long_message            "udh" (default), "sar" or "payload"
//	registered_delivery     0..255 (default 1: receipt on success or failure)
//	resp_id_format,         how the SMSC writes message ids in submit_sm_resp
//	receipt_id_format       and in receipts: "string" (default), "hex", "dec"
//	default_sender          sender when a message has none
//	max_batch_size          messages per Send, 1..1000 (default 100)
//	validity_period         how a message's validity goes into submit_sm:
//	                        "relative" (default), "absolute" or "none" for
//	                        SMSCs that refuse it (ESME_RINVEXPIRY)
//	country                 ISO 3166-1 alpha-2 region ("RU") that numbers
//	                        in national form in deliver_sm belong to
//	duplicate_window        how long a deliver_sm with the same content is
//	                        taken for a redelivery (default "10m", 1s..24h)
//
// Validity: a message's ValidUntil becomes submit_sm's validity_period, so
// the operator's network stops retrying when the host reports the message
// expired instead of after its own default (often 48 h). It is computed when
// each part is written to the link, not when Send is called, because a part
// may wait for a window slot, the rate or a reconnect. The relative form
// ("0000DDhhmmss000R", whole seconds rounded down, at most 30 days 23:59:59
// since a relative month has no fixed length) does not depend on the SMSC's
// clock; "absolute" writes ValidUntil in UTC ("YYMMDDhhmmsst00+") for SMSCs
// that only take that form. A message with less than a second of validity
// left, at Send or when a part is due, is not submitted: it is answered
// sdk.Expired (code EXPIRED), and the host records it expired. A multipart
// message whose later part runs out after its first was submitted is
// answered the same way; the network expires the parts it has.
//
// Submission: every bind takes parts from one shared queue while its window
// has room, paced by tps. A part's first ESME_RTHROTTLED pauses the bind and
// cuts its rate (earned back gradually); the part itself waits behind the
// others for its own backoff (0.1 s, doubling up to 5 s) before it is sent
// again, so a message the SMSC refuses over and over slows the bind but
// never holds up the rest. When its next try would come after Send gives up,
// it is answered Temporary with code 0x00000058 and a reason naming the
// SMSC's answer. Queue full and system error are tried again up to three
// times, then answered Temporary. Other statuses are Permanent, with the raw
// command_status as the result code.
//
// Connection loss: submits without a submit_sm_resp go back to the front of
// the queue and are sent on another bind or after the reconnect, within the
// same Send call; an answer that was read is never sent again. A part that
// was in flight when a connection ended goes out alone from then on (nothing
// else in flight on its bind until it is answered), so that a message the
// SMSC falls over on is told apart from the window sent with it; after
// three such drops it is answered Temporary with code CONNECTION_DROPPED, so
// the host can try another provider instead of the SMSC being brought down
// on every bind. An unbind from the SMSC is answered (the unbind_resp is
// flushed before our side closes) and is no message's fault. A missing
// answer after response_timeout drops the bind the same way. Resubmitting
// here rather than answering Temporary keeps a multipart message's parts
// together and spares the host a round trip; when queue_timeout or the
// host's context ends first, what is unanswered is answered Temporary, and a
// late acceptance of a one-part message is remembered so the host's retry
// gets the same id instead of a second submit.
//
// Receipts and inbound messages: deliver_sm is answered only after the host
// stored the event (ESME_RX_T_APPN when storing failed, so the SMSC
// delivers it again). Every deliver_sm is emitted as it arrives, so the host
// stores together what arrives together; when thousands wait for the host,
// the plugin stops reading the connection until the host catches up, so a
// fast SMSC is slowed down by TCP instead of being refused. Receipt ids are normalised to the submit_sm_resp's base (hex or
// decimal, no leading zeros, lower case) so they meet the provider id the
// host stored; the host holds reports for ids it does not know yet, which
// covers a receipt that beats its submit_sm_resp. SMSCs reuse ids (a
// restart begins again at 1), so a receipt also carries its source_addr,
// the message's recipient, for the host to tell apart the messages given
// one id, and its event id is a hash of the PDU's content, which the host
// takes for a repeat only within duplicate_window: a redelivery repeats the
// PDU, a later message's receipt does not.
//
// Numbers in deliver_sm are written in E.164 where the plugin can tell:
// TON 1 gets its "+", TON 0, 2 and 4 are read as national numbers of
// country (when set), else as international when that makes a valid
// number; short codes and alphanumeric addresses stay as they are.
//
// Multipart messages: the provider id is the first part's id; the plugin
// keeps the other parts' ids and reports the message delivered when every
// part is, or the first part failure. This grouping lives in the plugin's
// memory: after a plugin restart, later parts' receipts are reported under
// their own ids (which the host does not know) and the first part's receipt
// alone decides the message. Inbound concatenated parts are acknowledged as
// they arrive and reassembled in memory, so a restart mid-message loses the
// earlier parts. deliver_sm carries no id for an inbound message, so its
// event id is a hash of sender, recipient, text octets and (when present) the
// user_message_reference TLV, valid for duplicate_window: a redelivery within
// it is recognised as a duplicate, and the same text sent again by the same
// handset after it is a new message (within it, it is taken for a
// redelivery: no SMPP field tells the two apart).
package smpp
