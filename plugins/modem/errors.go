package modem

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/warthog618/modem/at"

	"github.com/smsrouter/smsrouter/sdk"
)

// blame says whose fault a failed submit is, which decides the outcome.
type blame int

const (
	// blameNetwork: a transient network condition; try again (here or elsewhere).
	blameNetwork blame = iota
	// blameMessage: the network or modem refused this message for good.
	blameMessage
	// blamePort: the port, its SIM or its registration is the problem;
	// the message is fine and goes to another port or provider.
	blamePort
)

// cmsCause is what one +CMS ERROR code means and whose fault it is.
type cmsCause struct {
	meaning string
	blame   blame
	refusal sdk.Refusal
}

// cmsCauses are the 3GPP 27.005 §3.2.5 codes (300+) and the network causes
// (below 128, 24.011) a modem passes through, with what each means for the
// message. Codes not listed are taken as transient.
var cmsCauses = map[int]cmsCause{
	1:   {"unassigned (unallocated) number", blameMessage, sdk.RefusalInvalidDestination},
	8:   {"operator determined barring", blameMessage, sdk.RefusalBlocked},
	10:  {"call barred", blameMessage, sdk.RefusalBlocked},
	21:  {"short message transfer rejected", blameMessage, sdk.RefusalRejected},
	27:  {"destination out of service", blameNetwork, ""},
	28:  {"unidentified subscriber", blameMessage, sdk.RefusalInvalidDestination},
	29:  {"facility rejected", blamePort, ""},
	30:  {"unknown subscriber", blameMessage, sdk.RefusalInvalidDestination},
	38:  {"network out of order", blameNetwork, ""},
	41:  {"temporary failure", blameNetwork, ""},
	42:  {"congestion", blameNetwork, ""},
	47:  {"resources unavailable", blameNetwork, ""},
	50:  {"requested facility not subscribed", blamePort, ""},
	69:  {"requested facility not implemented", blamePort, ""},
	96:  {"invalid mandatory information", blameMessage, sdk.RefusalInvalidMessage},
	300: {"ME failure", blamePort, ""},
	301: {"SMS service of ME reserved", blamePort, ""},
	302: {"operation not allowed", blamePort, ""},
	303: {"operation not supported", blamePort, ""},
	304: {"invalid PDU mode parameter", blameMessage, sdk.RefusalInvalidMessage},
	305: {"invalid text mode parameter", blameMessage, sdk.RefusalInvalidMessage},
	310: {"SIM not inserted", blamePort, ""},
	311: {"SIM PIN required", blamePort, ""},
	313: {"SIM failure", blamePort, ""},
	314: {"SIM busy", blameNetwork, ""},
	315: {"SIM wrong", blamePort, ""},
	316: {"SIM PUK required", blamePort, ""},
	320: {"memory failure", blamePort, ""},
	330: {"SMSC address unknown", blamePort, ""},
	331: {"no network service", blamePort, ""},
	332: {"network timeout", blameNetwork, ""},
	500: {"unknown error", blameNetwork, ""},
}

// errPortGone is a port's read side ending: unplugged, or the device went away.
var errPortGone = errors.New("the port went away (unplugged or reset)")

// submitOutcome turns the error of one part's submit into the message's
// result. sent says how many parts went out before it, since a resend of a
// partly sent message repeats those parts.
func submitOutcome(id, path string, part, total, sent int, err error) (sdk.SendResult, blame) {
	where := fmt.Sprintf("port %s, part %d/%d", path, part, total)
	if sent > 0 {
		where += fmt.Sprintf(" (%d earlier part(s) went out)", sent)
	}
	var cms at.CMSError
	var cme at.CMEError
	switch {
	case errors.As(err, &cms):
		return cmsOutcome(id, where, string(cms))
	case errors.As(err, &cme):
		return sdk.Unavailable(id, fmt.Sprintf("%s: +CME ERROR: %s (SIM or modem problem)", where, string(cme))).
			WithCode("CME " + string(cme)), blamePort
	case errors.Is(err, at.ErrDeadlineExceeded):
		return sdk.Unavailable(id, where+": the modem did not answer +CMGS in time").WithCode("TIMEOUT"), blamePort
	case errors.Is(err, at.ErrClosed), errors.Is(err, errPortGone):
		return sdk.Unavailable(id, where+": the port went away while sending").WithCode("PORT_GONE"), blamePort
	case errors.Is(err, at.ErrError):
		return sdk.SendResult{MessageID: id, Outcome: sdk.Temporary, Code: "ERROR",
			Reason: where + ": the modem answered ERROR to +CMGS"}, blameNetwork
	}
	return sdk.SendResult{MessageID: id, Outcome: sdk.Temporary, Code: "ERROR",
		Reason: fmt.Sprintf("%s: %v", where, err)}, blameNetwork
}

func cmsOutcome(id, where, raw string) (sdk.SendResult, blame) {
	code, convErr := strconv.Atoi(strings.TrimSpace(raw))
	codeText := "CMS " + strings.TrimSpace(raw)
	cause, known := cmsCauses[code]
	if convErr != nil || !known {
		return sdk.SendResult{MessageID: id, Outcome: sdk.Temporary, Code: codeText,
			Reason: fmt.Sprintf("%s: +CMS ERROR: %s", where, raw)}, blameNetwork
	}
	reason := fmt.Sprintf("%s: +CMS ERROR: %d (%s)", where, code, cause.meaning)
	switch cause.blame {
	case blameMessage:
		return sdk.SendResult{MessageID: id, Outcome: sdk.Permanent, Code: codeText, Reason: reason, Refusal: cause.refusal}, blameMessage
	case blamePort:
		return sdk.Unavailable(id, reason).WithCode(codeText), blamePort
	}
	return sdk.SendResult{MessageID: id, Outcome: sdk.Temporary, Code: codeText, Reason: reason}, blameNetwork
}

// commandError names the port and the command a modem refused, for the
// operator reading the log or the health detail.
func commandError(path, cmd string, err error) error {
	return fmt.Errorf("port %s: AT%s: %w", path, cmd, err)
}
