package modemtest

import (
	"fmt"
	"strings"
)

// result is what one command answers: information lines, then a final
// result (empty means OK), or a prompt for a message body.
type result struct {
	info   []string
	final  string
	prompt *pendingSend
}

// pendingSend is an open +CMGS prompt.
type pendingSend struct {
	text   bool   // text mode: the body is the message itself
	to     string // text mode destination
	length int    // PDU mode: TPDU octets announced
}

func (m *Modem) handle(p *plug, in *input, u unit) {
	switch u.kind {
	case unitLine:
		m.commandLine(p, in, u.text)
	case unitBody:
		m.submit(p, u.text)
	case unitCancel:
		m.mu.Lock()
		m.pending = nil
		m.mu.Unlock()
		p.write("\r\nOK\r\n")
	}
}

// commandLine runs every command of one line; the first error ends the
// line, as in a real modem.
func (m *Modem) commandLine(p *plug, in *input, line string) {
	m.mu.Lock()
	echo := m.st.echo
	m.mu.Unlock()
	if echo {
		p.write(line + "\r")
	}
	line = strings.TrimSpace(line)
	if len(line) < 2 || !strings.EqualFold(line[:2], "AT") {
		return // not a command: modems stay silent
	}
	var info []string
	final := "OK"
	m.mu.Lock()
	latency := m.latency
	for _, c := range parseLine(line[2:]) {
		m.commands = append(m.commands, c.raw)
		close(m.newCmd)
		m.newCmd = make(chan struct{})
		if c.name != "+CMGS" { // +CMGS fails after its body
			if f, ok := m.takeFailure(c.name); ok {
				final = f
				break
			}
		}
		latency += m.slow[c.name]
		r := m.exec(c)
		info = append(info, r.info...)
		if r.prompt != nil {
			m.pending = r.prompt
			m.mu.Unlock()
			// The prompt has no line end: clients must not wait for one.
			in.prompt = true
			p.write("\r\n> ")
			return
		}
		if r.final != "" {
			final = r.final
			break
		}
	}
	extra := m.extra
	m.extra = nil
	m.mu.Unlock()
	if !p.wait(latency) {
		return
	}
	p.write(answer(info, extra, final))
}

func answer(info, extra []string, final string) string {
	var b strings.Builder
	for _, l := range info {
		b.WriteString("\r\n" + l + "\r\n")
	}
	for _, l := range extra {
		b.WriteString("\r\n" + l + "\r\n")
	}
	b.WriteString("\r\n" + final + "\r\n")
	return b.String()
}

func (m *Modem) takeFailure(name string) (string, bool) {
	q := m.failures[name]
	if len(q) == 0 {
		return "", false
	}
	m.failures[name] = q[1:]
	return q[0], true
}

// handler answers one command; it runs with m.mu held.
type handler func(m *Modem, c command) result

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"E":  func(m *Modem, c command) result { m.st.echo = c.arg(0) == "1"; return result{} },
		"Z":  func(m *Modem, c command) result { m.st.reset(); return result{} },
		"&F": func(m *Modem, c command) result { m.st.reset(); return result{} },
		"I": func(m *Modem, c command) result {
			return result{info: []string{m.opts.Manufacturer, m.opts.Model, "Revision: " + m.opts.Revision}}
		},
		"+CGMI":  identity(func(o *Options) string { return o.Manufacturer }),
		"+GMI":   identity(func(o *Options) string { return o.Manufacturer }),
		"+CGMM":  identity(func(o *Options) string { return o.Model }),
		"+GMM":   identity(func(o *Options) string { return o.Model }),
		"+CGMR":  identity(func(o *Options) string { return o.Revision }),
		"+GMR":   identity(func(o *Options) string { return o.Revision }),
		"+CGSN":  identity(func(o *Options) string { return o.IMEI }),
		"+GSN":   identity(func(o *Options) string { return o.IMEI }),
		"+GCAP":  func(m *Modem, c command) result { return result{info: []string{"+GCAP: +CGSM,+DS"}} },
		"+CIMI":  (*Modem).cimi,
		"+CNUM":  (*Modem).cnum,
		"+CMEE":  intSetting("+CMEE", "(0-2)", func(m *Modem) *int { return &m.st.cmee }),
		"+CPIN":  (*Modem).cpin,
		"+CFUN":  fixed("+CFUN: 1", "+CFUN: (0,1,4),(0,1)"),
		"+CSQ":   (*Modem).csq,
		"+CREG":  registration("+CREG", func(m *Modem) *int { return &m.st.cregN }),
		"+CGREG": registration("+CGREG", func(m *Modem) *int { return &m.st.ceregN }),
		"+CEREG": registration("+CEREG", func(m *Modem) *int { return &m.st.ceregN }),
		"+COPS":  (*Modem).cops,
		"+CMGF":  (*Modem).cmgf,
		"+CSCS":  (*Modem).cscs,
		"+CSMS":  fixedSet("+CSMS: 0,1,1,1", "+CSMS: (0,1)", "+CSMS: 1,1,1"),
		"+CNMA":  func(m *Modem, c command) result { return result{} },
		"+CSMP":  (*Modem).csmp,
		"+CNMI":  (*Modem).cnmi,
		"+CPMS":  (*Modem).cpms,
		"+CSCA":  (*Modem).csca,
		"+CMGS":  (*Modem).cmgs,
		"+CMGR":  (*Modem).cmgr,
		"+CMGL":  (*Modem).cmgl,
		"+CMGD":  (*Modem).cmgd,
	}
	// Profile commands every modem accepts and this one ignores.
	for _, n := range []string{"Q", "V", "X", "L", "M", "&C", "&D", "&K", "&W", "+IFC", "+ICF", "+IPR"} {
		handlers[n] = func(m *Modem, c command) result { return result{} }
	}
}

func (m *Modem) exec(c command) result {
	if strings.HasPrefix(c.name, "S") && !strings.HasPrefix(c.name, "+") {
		return result{info: sRegister(c)}
	}
	h, ok := handlers[c.name]
	if !ok {
		return result{final: "ERROR"}
	}
	return h(m, c)
}

func sRegister(c command) []string {
	if strings.HasSuffix(c.name, "?") {
		return []string{"000"}
	}
	return nil
}

// Error results, as +CMEE asks: plain ERROR, numeric or verbose.
var cmeText = map[int]string{
	3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted",
	11: "SIM PIN required", 12: "SIM PUK required", 16: "incorrect password",
	21: "invalid index", 30: "no network service", 50: "incorrect parameters", 100: "unknown",
}

var cmsText = map[int]string{
	302: "operation not allowed", 304: "invalid PDU mode parameter",
	305: "invalid text mode parameter", 311: "SIM PIN required", 316: "SIM PUK required",
	321: "invalid memory index", 322: "memory full", 330: "SMSC address unknown",
	331: "no network service", 500: "unknown error",
}

func (m *Modem) cme(n int) result { return result{final: m.errorLine("+CME ERROR", n, cmeText)} }
func (m *Modem) cms(n int) result { return result{final: m.errorLine("+CMS ERROR", n, cmsText)} }

func (m *Modem) errorLine(prefix string, n int, text map[int]string) string {
	switch m.st.cmee {
	case 1:
		return fmt.Sprintf("%s: %d", prefix, n)
	case 2:
		if t, ok := text[n]; ok {
			return prefix + ": " + t
		}
		return fmt.Sprintf("%s: %d", prefix, n)
	}
	return "ERROR"
}

func identity(get func(*Options) string) handler {
	return func(m *Modem, c command) result {
		if c.form == formTest {
			return result{}
		}
		return result{info: []string{get(&m.opts)}}
	}
}

func fixed(read, test string) handler {
	return fixedSet(read, test, "")
}

func fixedSet(read, test, set string) handler {
	return func(m *Modem, c command) result {
		switch c.form {
		case formRead:
			return result{info: []string{read}}
		case formTest:
			return result{info: []string{test}}
		case formSet:
			if set != "" {
				return result{info: []string{set}}
			}
		}
		return result{}
	}
}

func intSetting(name, rng string, field func(*Modem) *int) handler {
	return func(m *Modem, c command) result {
		switch c.form {
		case formRead:
			return result{info: []string{fmt.Sprintf("%s: %d", name, *field(m))}}
		case formTest:
			return result{info: []string{name + ": " + rng}}
		case formSet:
			n, ok := c.intArg(0)
			if !ok {
				return m.cme(50)
			}
			*field(m) = n
		}
		return result{}
	}
}

func registration(name string, field func(*Modem) *int) handler {
	return func(m *Modem, c command) result {
		if c.form == formRead {
			stat := m.st.reg
			if m.st.locked {
				stat = 0
			}
			return result{info: []string{fmt.Sprintf("%s: %d,%d", name, *field(m), stat)}}
		}
		return intSetting(name, "(0-2)", field)(m, c)
	}
}
