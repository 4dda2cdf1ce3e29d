package modemtest

const (
	cr    = '\r'
	lf    = '\n'
	ctrlZ = 0x1a
	esc   = 0x1b
	bs    = 0x08
)

// unitKind is what a client finished typing.
type unitKind int

const (
	unitLine   unitKind = iota // a command line, ended by CR
	unitBody                   // a message body after the prompt, ended by Ctrl-Z
	unitCancel                 // ESC while the prompt was open
)

type unit struct {
	kind unitKind
	text string
}

// input turns the client's bytes into command lines and message bodies,
// the way a modem's command parser does.
type input struct {
	prompt bool // a +CMGS prompt is open: bytes are a message body
	buf    []byte
}

func (in *input) feed(b byte) (unit, bool) {
	if in.prompt {
		return in.feedBody(b)
	}
	switch b {
	case esc:
		in.buf = in.buf[:0]
	case cr:
		line := string(in.buf)
		in.buf = in.buf[:0]
		return unit{kind: unitLine, text: line}, true
	case lf, ctrlZ, 0:
		// LF after CR and stray Ctrl-Z are ignored, as modems do.
	case bs:
		if len(in.buf) > 0 {
			in.buf = in.buf[:len(in.buf)-1]
		}
	default:
		in.buf = append(in.buf, b)
	}
	return unit{}, false
}

func (in *input) feedBody(b byte) (unit, bool) {
	switch b {
	case ctrlZ:
		body := string(in.buf)
		in.buf = in.buf[:0]
		in.prompt = false
		return unit{kind: unitBody, text: body}, true
	case esc:
		in.buf = in.buf[:0]
		in.prompt = false
		return unit{kind: unitCancel}, true
	case lf:
	case cr:
		// Text mode: CR is a line break in the message.
		in.buf = append(in.buf, lf)
	default:
		in.buf = append(in.buf, b)
	}
	return unit{}, false
}
