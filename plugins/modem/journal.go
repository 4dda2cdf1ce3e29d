package modem

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"time"
)

// journalEntry is one line of the report journal: a sent message as it
// stands (each part's reference and its final TP-Status, -1 while open),
// or End once it was reported. The last line about an id wins.
type journalEntry struct {
	ID    string        `json:"id"`
	Port  string        `json:"port,omitempty"`
	To    string        `json:"to,omitempty"`
	At    int64         `json:"at,omitempty"` // unix seconds it was sent
	Parts []journalPart `json:"parts,omitempty"`
	Done  int64         `json:"done,omitempty"` // unix ms of the last part's final report (network time)
	End   bool          `json:"end,omitempty"`
}

type journalPart struct {
	MR int `json:"mr"`
	ST int `json:"st"` // final TP-Status, or -1 while waiting
}

// reportJournal keeps, in the state file, the messages waiting for status
// reports, so reports that come after a restart of the plugin are still
// matched. Appended once per sent message and per final report; rewritten
// from the book's live messages when it grew past twice those (plus some
// slack). The file is opened at the first message sent, so validating a
// config whose directory does not exist yet passes.
type reportJournal struct {
	path  string
	f     *os.File
	lines int
}

// loadJournal reads the messages still inside window from path; a missing
// file is an empty journal.
func loadJournal(path string, window time.Duration, now time.Time) (*reportJournal, []journalEntry, error) {
	j := &reportJournal{path: path}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading the status report journal: %w", err)
	}
	defer f.Close()
	byID := map[string]journalEntry{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var e journalEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.ID == "" {
			continue // a line cut short by a crash
		}
		j.lines++
		if e.End {
			delete(byID, e.ID)
			continue
		}
		byID[e.ID] = e
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading the status report journal %s: %w", path, err)
	}
	live := make([]journalEntry, 0, len(byID))
	for _, e := range byID {
		if now.Sub(time.Unix(e.At, 0)) <= window {
			live = append(live, e)
		}
	}
	// Oldest first, so a newer part with a reused reference wins.
	sort.Slice(live, func(a, b int) bool { return live[a].At < live[b].At })
	return j, live, nil
}

// write appends one entry, compacting to live when the file grew too long.
func (j *reportJournal) write(e journalEntry, live func() []journalEntry, nLive int) error {
	if j.f == nil {
		f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("opening the status report journal: %w", err)
		}
		j.f = f
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding a status report journal entry: %w", err)
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("appending to the status report journal: %w", err)
	}
	j.lines++
	if j.lines <= 2*nLive+journalSlack {
		return nil
	}
	return j.rewrite(live())
}

// journalSlack keeps a small journal from being rewritten at every line.
const journalSlack = 256

// rewrite replaces the journal with the live entries.
func (j *reportJournal) rewrite(live []journalEntry) error {
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("compacting the status report journal: %w", err)
	}
	j.f = nil
	var buf []byte
	for _, e := range live {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("compacting the status report journal: %w", err)
		}
		buf = append(append(buf, b...), '\n')
	}
	tmp := j.path + ".tmp"
	if err := os.WriteFile(tmp, buf, 0o600); err != nil {
		return fmt.Errorf("compacting the status report journal: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("compacting the status report journal: %w", err)
	}
	j.lines = len(live)
	return nil
}

func (j *reportJournal) close() error {
	if j == nil || j.f == nil {
		return nil
	}
	return j.f.Close()
}
