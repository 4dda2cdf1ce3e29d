package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
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
