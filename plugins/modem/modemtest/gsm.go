package modemtest

import (
	"fmt"
	"strconv"
	"strings"
)

// Identity, SIM and network commands (27.007). All run with m.mu held.

func (m *Modem) cimi(c command) result {
	if c.form == formTest {
		return result{}
	}
	if m.st.locked {
		return m.simLocked()
	}
	return result{info: []string{m.opts.IMSI}}
}

func (m *Modem) cnum(c command) result {
	if m.st.locked {
		return m.simLocked()
	}
	if m.opts.OwnNumber == "" || c.form == formTest {
		return result{}
	}
	toa := 129
	if strings.HasPrefix(m.opts.OwnNumber, "+") {
		toa = 145
	}
	return result{info: []string{fmt.Sprintf(`+CNUM: "","%s",%d`, m.opts.OwnNumber, toa)}}
}

func (m *Modem) simLocked() result {
	if m.st.puk {
		return m.cme(12)
	}
	return m.cme(11)
}

// cpin never lets a wrong PIN pass and counts tries like a SIM: the third
// wrong one blocks it until a PUK, which this modem does not take.
func (m *Modem) cpin(c command) result {
	switch c.form {
	case formRead:
		switch {
		case m.st.puk:
			return result{info: []string{"+CPIN: SIM PUK"}}
		case m.st.locked:
			return result{info: []string{"+CPIN: SIM PIN"}}
		}
		return result{info: []string{"+CPIN: READY"}}
	case formTest:
		return result{}
	case formSet:
		switch {
		case m.st.puk:
			return m.cme(16)
		case !m.st.locked:
			return m.cme(3)
		case c.arg(0) == m.opts.PIN:
			m.st.locked = false
			m.st.pinTries = 3
			return result{}
		}
		m.st.pinTries--
		if m.st.pinTries <= 0 {
			m.st.puk = true
		}
		return m.cme(16)
	}
	return m.cme(3)
}

func (m *Modem) csq(c command) result {
	if c.form == formTest {
		return result{info: []string{"+CSQ: (0-31,99),(0-7,99)"}}
	}
	return result{info: []string{fmt.Sprintf("+CSQ: %d,99", m.st.rssi)}}
}

func (m *Modem) cops(c command) result {
	switch c.form {
	case formRead:
		if !m.st.registered() {
			return result{info: []string{"+COPS: 0"}}
		}
		name := m.opts.Operator
		if m.st.copsFmt == 2 {
			name = m.opts.OperatorCode
		}
		return result{info: []string{fmt.Sprintf(`+COPS: 0,%d,"%s",7`, m.st.copsFmt, name)}}
	case formTest:
		return result{info: []string{fmt.Sprintf(`+COPS: (2,"%s","%s","%s",7),,(0-4),(0-2)`,
			m.opts.Operator, m.opts.Operator, m.opts.OperatorCode)}}
	case formSet:
		if f, ok := c.intArg(1); ok {
			m.st.copsFmt = f
		}
	}
	return result{}
}

// Message service settings (27.005).

func (m *Modem) cmgf(c command) result {
	switch c.form {
	case formRead:
		return result{info: []string{"+CMGF: " + boolDigit(m.st.textMode)}}
	case formTest:
		return result{info: []string{"+CMGF: (0,1)"}}
	case formSet:
		switch c.arg(0) {
		case "0":
			m.st.textMode = false
		case "1":
			m.st.textMode = true
		default:
			return m.cms(302)
		}
	}
	return result{}
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (m *Modem) cscs(c command) result {
	switch c.form {
	case formRead:
		return result{info: []string{`+CSCS: "` + m.st.cscs + `"`}}
	case formTest:
		return result{info: []string{`+CSCS: ("GSM","IRA","UCS2")`}}
	case formSet:
		switch cs := strings.ToUpper(c.arg(0)); cs {
		case "GSM", "IRA", "UCS2":
			m.st.cscs = cs
		default:
			return m.cme(4)
		}
	}
	return result{}
}

func (m *Modem) csmp(c command) result {
	switch c.form {
	case formRead:
		return result{info: []string{fmt.Sprintf("+CSMP: %d,167,0,0", m.st.csmpFO)}}
	case formSet:
		if fo, ok := c.intArg(0); ok {
			m.st.csmpFO = fo
		}
	}
	return result{}
}

func (m *Modem) cnmi(c command) result {
	switch c.form {
	case formRead:
		n := m.st.cnmi
		return result{info: []string{fmt.Sprintf("+CNMI: %d,%d,%d,%d,%d", n[0], n[1], n[2], n[3], n[4])}}
	case formTest:
		return result{info: []string{"+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)"}}
	case formSet:
		var n [5]int
		for i := range c.args {
			if i >= len(n) {
				return m.cms(302)
			}
			if c.args[i] == "" {
				continue
			}
			v, err := strconv.Atoi(c.args[i])
			if err != nil {
				return m.cms(302)
			}
			n[i] = v
		}
		m.st.cnmi = n
	}
	return result{}
}

// cpms offers one storage, "SM", under every name clients ask for, so a
// client that reads "ME" too does not see each message twice.
func (m *Modem) cpms(c command) result {
	if m.st.locked {
		return m.cms(311)
	}
	u, t := m.st.store.used(), m.st.store.cap
	switch c.form {
	case formRead:
		return result{info: []string{fmt.Sprintf(`+CPMS: "SM",%d,%d,"SM",%d,%d,"SM",%d,%d`, u, t, u, t, u, t)}}
	case formTest:
		return result{info: []string{`+CPMS: ("SM"),("SM"),("SM")`}}
	case formSet:
		for _, a := range c.args {
			if a != "SM" && a != "" {
				return m.cms(302)
			}
		}
		return result{info: []string{fmt.Sprintf("+CPMS: %d,%d,%d,%d,%d,%d", u, t, u, t, u, t)}}
	}
	return result{}
}

func (m *Modem) csca(c command) result {
	if m.st.locked {
		return m.cms(311)
	}
	switch c.form {
	case formRead:
		if m.st.smsc == "" {
			return result{info: []string{`+CSCA: "",129`}}
		}
		return result{info: []string{fmt.Sprintf(`+CSCA: "%s",145`, m.st.smsc)}}
	case formSet:
		m.st.smsc = c.arg(0)
	}
	return result{}
}
