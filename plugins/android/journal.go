package android

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// journal remembers, beside the state file, which phone took which
// message, one line each ("<message id> <device id>"), so the reports a
// phone sends after a restart of the server (a delivery hours later, a
// PATCH replayed) are still recognised as being about a message it was
// given. Appended once per taken message; rewritten from the pool's
// bounded memory of taken messages when it grew past twice that.
type journal struct {
	path  string
	f     *os.File
	lines int
}

// openJournal loads the journal's entries into recent. The file is opened
// for appending at the first message taken, so a server that never sends
// through phones (config validation, a test) writes nothing.
func openJournal(path string, recent *recentSet) (*journal, error) {
	j := &journal{path: path}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading the taken-messages journal: %w", err)
	default:
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			id, dev, ok := strings.Cut(sc.Text(), " ")
			if ok && id != "" && dev != "" {
				recent.add(id, &given{deviceID: dev})
				j.lines++
			}
		}
		err := sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the taken-messages journal %s: %w", path, err)
		}
	}
	if j.lines > 2*recent.max {
		if err := j.rewrite(recent); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// add records that device took message id.
func (j *journal) add(id, device string, recent *recentSet) error {
	if j.f == nil {
		f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("opening the taken-messages journal: %w", err)
		}
		j.f = f
	}
	if _, err := fmt.Fprintf(j.f, "%s %s\n", id, device); err != nil {
		return fmt.Errorf("appending to the taken-messages journal: %w", err)
	}
	j.lines++
	if j.lines <= 2*recent.max {
		return nil
	}
	if err := j.f.Close(); err != nil {
		return err
	}
	if err := j.rewrite(recent); err != nil {
		return err
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	j.f = f
	return err
}

// rewrite replaces the journal with what recent holds, oldest first.
func (j *journal) rewrite(recent *recentSet) error {
	var b strings.Builder
	n := 0
	for i := range recent.order {
		id := recent.order[(recent.head+i)%len(recent.order)]
		if g := recent.byID[id]; g != nil {
			fmt.Fprintf(&b, "%s %s\n", id, g.deviceID)
			n++
		}
	}
	tmp := j.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("compacting the taken-messages journal: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("compacting the taken-messages journal: %w", err)
	}
	j.lines = n
	return nil
}

func (j *journal) close() error {
	if j == nil || j.f == nil {
		return nil
	}
	return j.f.Close()
}
