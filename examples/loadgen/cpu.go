package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// proc is what the meter reads from /proc/PID/stat.
type proc struct {
	pid, ppid int
	comm      string
	// start (clock ticks after boot) tells a reused pid from the process
	// that had it before.
	start uint64
	cpu   time.Duration
}

type procKey struct {
	pid   int
	start uint64
}

// parseStat reads a /proc/PID/stat line.
func parseStat(b []byte) (proc, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return proc{}, fmt.Errorf("unexpected stat line %q", b)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:open])))
	if err != nil {
		return proc{}, fmt.Errorf("unexpected stat line %q: %w", b, err)
	}
	// The command name, in parentheses, may hold spaces and parentheses:
	// fields count from after its last closing parenthesis (state is
	// field 3, ppid 4, utime 14, stime 15, starttime 22).
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 20 {
		return proc{}, fmt.Errorf("unexpected stat line %q: %d fields", b, len(f))
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseInt(f[11], 10, 64)
	stime, err3 := strconv.ParseInt(f[12], 10, 64)
	start, err4 := strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return proc{}, fmt.Errorf("unexpected stat line %q: %w", b, err)
	}
	// Clock ticks are 100 per second on Linux everywhere that matters.
	return proc{pid: pid, ppid: ppid, comm: string(b[open+1 : end]), start: start,
		cpu: time.Duration(utime+stime) * 10 * time.Millisecond}, nil
}

// processes reads every process's stat; processes that end while it reads
// are left out.
func processes() (map[int]proc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	all := make(map[int]proc, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		p, err := parseStat(b)
		if err != nil {
			return nil, err
		}
		all[pid] = p
	}
	return all, nil
}

// descendants are the children of roots, their children, and so on.
func descendants(all map[int]proc, roots []int) []int {
	children := map[int][]int{}
	for pid, p := range all {
		children[p.ppid] = append(children[p.ppid], pid)
	}
	var out []int
	queue := append([]int(nil), roots...)
	seen := map[int]bool{}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	return out
}

// procGroup is a set of processes whose CPU time the report adds up.
type procGroup struct {
	name    string
	members func(all map[int]proc) []int
}

// cpuMeter samples its groups' CPU time now and then, so that processes
// that come and go during the run (database backends, restarted plugins)
// count with the time they used up to their last sample.
type cpuMeter struct {
	groups []procGroup
	mu     sync.Mutex
	// base is each process's CPU time when first seen: at the first sample,
	// what it had used before the run; later, zero, as it started since.
	base, last []map[procKey]time.Duration
	sampled    bool
}

func newCPUMeter(groups ...procGroup) *cpuMeter {
	m := &cpuMeter{groups: groups}
	for range groups {
		m.base = append(m.base, map[procKey]time.Duration{})
		m.last = append(m.last, map[procKey]time.Duration{})
	}
	return m
}

func (m *cpuMeter) sample() error {
	all, err := processes()
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, g := range m.groups {
		for _, pid := range g.members(all) {
			p, ok := all[pid]
			if !ok {
				continue
			}
			k := procKey{p.pid, p.start}
			if _, known := m.base[i][k]; !known {
				m.base[i][k] = 0
				if !m.sampled {
					m.base[i][k] = p.cpu
				}
			}
			m.last[i][k] = p.cpu
		}
	}
	m.sampled = true
	return nil
}

// run samples every interval until ctx ends.
func (m *cpuMeter) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = m.sample() // a missed sample only loses precision
		}
	}
}

// groupUse is one group's CPU time since the first sample.
type groupUse struct {
	name      string
	cpu       time.Duration
	processes int
}

func (m *cpuMeter) used() []groupUse {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]groupUse, len(m.groups))
	for i, g := range m.groups {
		out[i] = groupUse{name: g.name, processes: len(m.last[i])}
		for k, cpu := range m.last[i] {
			out[i].cpu += cpu - m.base[i][k]
		}
	}
	return out
}

// serverGroups are smsrouter's server process and its plugin processes
// (every descendant: go-plugin starts them as children).
func serverGroups(pid int) []procGroup {
	return []procGroup{
		{name: "server", members: func(all map[int]proc) []int {
			if _, ok := all[pid]; ok {
				return []int{pid}
			}
			return nil
		}},
		{name: "plugins", members: func(all map[int]proc) []int { return descendants(all, []int{pid}) }},
	}
}

// databaseGroup is the listed processes with their descendants (give
// PostgreSQL's postmaster and its backends count), plus every process whose
// command name is comm.
func databaseGroup(pids []int, comm string) procGroup {
	return procGroup{name: "database", members: func(all map[int]proc) []int {
		var out []int
		for _, pid := range pids {
			if _, ok := all[pid]; ok {
				out = append(out, pid)
			}
		}
		out = append(out, descendants(all, pids)...)
		if comm != "" {
			for pid, p := range all {
				if p.comm == comm {
					out = append(out, pid)
				}
			}
		}
		return out
	}}
}

// parsePIDs reads -db-pids.
func parsePIDs(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("-db-pids: %q is not a process id", f)
		}
		out = append(out, pid)
	}
	return out, nil
}
