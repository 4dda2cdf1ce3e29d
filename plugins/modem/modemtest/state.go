package modemtest

import "sort"

// state is what the modem and its SIM remember. Guarded by Modem.mu.
type state struct {
	opts *Options

	// settings, reset at power-on (and partly by ATZ)
	echo     bool
	cmee     int
	textMode bool // +CMGF=1
	cscs     string
	cnmi     [5]int
	cregN    int
	ceregN   int
	copsFmt  int
	csmpFO   int
	smsc     string

	// SIM
	locked   bool
	pinTries int
	puk      bool
	reg      int
	rssi     int
	store    storage

	mr int
}

func newState(o *Options) state {
	return state{
		opts:     o,
		reg:      o.Registration,
		rssi:     o.Signal,
		pinTries: 3,
		store:    storage{cap: o.Storage, msgs: map[int]*stored{}},
		mr:       o.FirstMR,
		smsc:     o.SMSC,
	}
}

// powerOn resets what a power cycle resets; the SIM keeps its messages and
// its remaining PIN tries.
func (s *state) powerOn() {
	s.reset()
	s.cnmi = [5]int{}
	s.cregN, s.ceregN = 0, 0
	s.locked = s.opts.PIN != "" || s.puk
}

// reset is ATZ / AT&F: the profile, not the SIM.
func (s *state) reset() {
	s.echo = true
	s.cmee = 0
	s.textMode = false
	s.cscs = "IRA"
	s.copsFmt = 0
	s.csmpFO = 17
}

func (s *state) registered() bool {
	return !s.locked && (s.reg == 1 || s.reg == 5)
}

func (s *state) nextMR() int {
	mr := s.mr % 256
	s.mr = mr + 1
	return mr
}

// Message status in storage (27.005 <stat>).
const (
	statUnread = 0
	statRead   = 1
)

type stored struct {
	stat int
	tpdu []byte // SMS-DELIVER or SMS-STATUS-REPORT
}

type storage struct {
	cap  int
	msgs map[int]*stored
}

func (st *storage) used() int { return len(st.msgs) }

// put stores a message at the lowest free index; false when full.
func (st *storage) put(tp []byte) (int, bool) {
	for i := 1; i <= st.cap; i++ {
		if _, ok := st.msgs[i]; !ok {
			st.msgs[i] = &stored{stat: statUnread, tpdu: tp}
			return i, true
		}
	}
	return 0, false
}

func (st *storage) indexes() []int {
	idx := make([]int, 0, len(st.msgs))
	for i := range st.msgs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	return idx
}
