package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// fate is what the simulation decides for one attempt of one message. It is a
// pure function of the seed, the message id and the attempt number, so runs
// repeat exactly whatever the batching or concurrency.
type fate struct {
	sendDraw     float64 // decides accepted / temporary / permanent
	deliveryDraw float64 // decides delivered / undeliverable
	failure      undeliverable
	providerID   string
}

type undeliverable struct {
	code   string
	status string
}

// undeliverableCodes are the network answers a real handset-side failure
// produces most often.
var undeliverableCodes = []undeliverable{
	{code: "ABSENT_SUBSCRIBER", status: "UNDELIV"},
	{code: "UNKNOWN_SUBSCRIBER", status: "UNDELIV"},
	{code: "CALL_BARRED", status: "UNDELIV"},
}

func fateOf(seed int64, messageID string, attempt int) fate {
	var prefix [12]byte
	binary.BigEndian.PutUint64(prefix[:8], uint64(seed))
	binary.BigEndian.PutUint32(prefix[8:], uint32(attempt))
	h := sha256.New()
	h.Write(prefix[:])
	h.Write([]byte(messageID))
	sum := h.Sum(nil)
	return fate{
		sendDraw:     unitFloat(sum[0:8]),
		deliveryDraw: unitFloat(sum[8:16]),
		failure:      undeliverableCodes[int(sum[16])%len(undeliverableCodes)],
		providerID:   "sbx-" + hex.EncodeToString(sum[24:32]),
	}
}

// unitFloat maps 8 hash bytes to [0, 1) with 53 bits of precision.
func unitFloat(b []byte) float64 {
	return float64(binary.BigEndian.Uint64(b)>>11) / (1 << 53)
}

// providerIDFor builds the id an accepted message gets: its fate key, then
// what QueryStatus needs to recompute the report in a later process (the
// attempt, the acceptance time in base-36 milliseconds and the message id).
func providerIDFor(f fate, attempt int, acceptedAt time.Time, messageID string) string {
	return fmt.Sprintf("%s-%d-%s-%s", f.providerID, attempt, strconv.FormatInt(acceptedAt.UnixMilli(), 36), messageID)
}

// finalReport is the one delivery report an accepted message gets.
func finalReport(f fate, cfg settings, providerID string, at time.Time) sdk.StatusEvent {
	ev := sdk.StatusEvent{ProviderMessageID: providerID, Status: sdk.StatusDelivered, ProviderStatus: "DELIVRD", At: at}
	if f.deliveryDraw >= cfg.deliveryRatio {
		ev.Status = sdk.StatusUndeliverable
		ev.ProviderStatus = f.failure.status
		ev.ErrorCode = f.failure.code
	}
	return ev
}

// reconstruct rebuilds the record of a message accepted by an earlier
// process from its provider id. ids this sandbox (with this seed) did not
// issue are not recognised.
func (p *Provider) reconstruct(id string) (*record, bool) {
	parts := strings.SplitN(id, "-", 5)
	if len(parts) != 5 || parts[0] != "sbx" {
		return nil, false
	}
	attempt, err1 := strconv.Atoi(parts[2])
	ms, err2 := strconv.ParseInt(parts[3], 36, 64)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	f := fateOf(p.cfg.seed, parts[4], attempt)
	if f.providerID != parts[0]+"-"+parts[1] {
		return nil, false
	}
	acceptedAt := time.UnixMilli(ms)
	r := &record{providerID: id, fateKey: f.providerID, acceptedAt: acceptedAt, dueAt: acceptedAt.Add(p.cfg.dlrDelay)}
	r.final = finalReport(f, p.cfg, id, r.dueAt)
	return r, true
}
