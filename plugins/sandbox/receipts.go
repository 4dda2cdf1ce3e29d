package sandbox

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"
)

// Receipt is the sandbox's provider-side record of one acceptance: what a
// real provider's own books would show. Tests read them back with
// ReadReceipts to count how often each message really reached "the
// provider", independently of what the host recorded.
type Receipt struct {
	// MessageID is the host's message id the Send carried.
	MessageID string `json:"message_id"`
	// ProviderMessageID is the id the sandbox answered with.
	ProviderMessageID string    `json:"provider_message_id"`
	AcceptedAt        time.Time `json:"accepted_at"`
	// Repeat is true when the answer came from the sandbox's memory of an
	// earlier acceptance of the same message (in this process, or in any
	// process with dedupe_by_message_id): no second SMS went out.
	Repeat bool `json:"repeat,omitempty"`
	// PID is the sandbox process that accepted it.
	PID int `json:"pid"`
}

const (
	receiptFilePrefix = "receipts-"
	receiptFileSuffix = ".jsonl"
	// claimsDir holds one file per message id when dedupe_by_message_id is
	// on, shared by every sandbox process that uses the receipts directory.
	claimsDir = "by-message-id"
)

// safeFileName is what a message id may look like to be used as a file
// name as is; host ids ("msg_…") always do.
var safeFileName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// receiptBook writes one process's receipts to a file of its own in a
// directory several sandbox processes share (two hosts on one machine, a
// host and its restarted successor), so no two processes ever write to the
// same file and a reader merges them. Each receipt is one write(2) to a
// file opened O_APPEND before Send answers, so it survives the process
// being killed at any later point. Files are not fsynced: the sandbox
// simulates a provider for tests, where the machine does not lose power.
type receiptBook struct {
	dir    string
	dedupe bool
	pid    int
	tag    string // tells this book's temporary files from another's
	file   *os.File
	tmpSeq int
}

// openReceiptBook creates dir (and the claims directory when dedupe is on)
// and a receipt file for this process.
func openReceiptBook(dir string, dedupe bool) (*receiptBook, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create receipts_dir: %w", err)
	}
	if dedupe {
		if err := os.MkdirAll(filepath.Join(dir, claimsDir), 0o755); err != nil {
			return nil, fmt.Errorf("create receipts_dir: %w", err)
		}
	}
	pid := os.Getpid()
	// The random part keeps two providers of one process (tests) apart.
	var tag [6]byte
	_, _ = rand.Read(tag[:])
	name := filepath.Join(dir, fmt.Sprintf("%s%d-%s%s", receiptFilePrefix, pid, hex.EncodeToString(tag[:]), receiptFileSuffix))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open receipt file in receipts_dir: %w", err)
	}
	return &receiptBook{dir: dir, dedupe: dedupe, pid: pid, tag: hex.EncodeToString(tag[:]), file: f}, nil
}

// write appends one receipt with a single write, so a kill leaves at most
// a torn last line, which ReadReceipts ignores.
func (b *receiptBook) write(r Receipt) error {
	r.PID = b.pid
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := b.file.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write receipt of %s: %w", r.MessageID, err)
	}
	return nil
}

// claim makes providerID the answer for messageID across every process
// sharing the directory, unless one of them claimed it first; it returns
// the id that won, and whether this call won (two processes accepting in
// one millisecond make the same id). The file is written under a temporary name and then
// hard-linked into place, which fails if the name exists: a reader never
// sees a half-written claim, and exactly one process wins.
func (b *receiptBook) claim(messageID, providerID string) (first string, won bool, err error) {
	final := filepath.Join(b.dir, claimsDir, claimFileName(messageID))
	if id, err := os.ReadFile(final); err == nil && len(id) > 0 {
		return string(id), false, nil
	}
	b.tmpSeq++
	tmp := filepath.Join(b.dir, claimsDir, fmt.Sprintf(".tmp-%d-%s-%d", b.pid, b.tag, b.tmpSeq))
	if err := os.WriteFile(tmp, []byte(providerID), 0o644); err != nil {
		return "", false, fmt.Errorf("claim message %s: %w", messageID, err)
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, final)
	if err == nil {
		return providerID, true, nil
	}
	if !errors.Is(err, os.ErrExist) {
		return "", false, fmt.Errorf("claim message %s: %w", messageID, err)
	}
	id, err := os.ReadFile(final)
	if err != nil {
		return "", false, fmt.Errorf("read the earlier claim of message %s: %w", messageID, err)
	}
	return string(id), false, nil
}

func (b *receiptBook) close() error {
	return b.file.Close()
}

func claimFileName(messageID string) string {
	if safeFileName.MatchString(messageID) {
		return messageID
	}
	sum := sha256.Sum256([]byte(messageID))
	return "h-" + hex.EncodeToString(sum[:20])
}

// ReadReceipts returns every receipt written to dir by any sandbox process,
// ordered by acceptance time. A torn last line (a process killed in the
// middle of writing it, before its Send answered) is skipped.
func ReadReceipts(dir string) ([]Receipt, error) {
	names, err := filepath.Glob(filepath.Join(dir, receiptFilePrefix+"*"+receiptFileSuffix))
	if err != nil {
		return nil, err
	}
	var out []Receipt
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read receipts: %w", err)
		}
		if i := bytes.LastIndexByte(data, '\n'); i < len(data)-1 {
			data = data[:i+1] // drop the torn tail
		}
		s := bufio.NewScanner(bytes.NewReader(data))
		s.Buffer(make([]byte, 0, 4096), 1<<20)
		for line := 1; s.Scan(); line++ {
			var r Receipt
			if err := json.Unmarshal(s.Bytes(), &r); err != nil {
				return nil, fmt.Errorf("read receipts: %s line %d: %w", filepath.Base(name), line, err)
			}
			out = append(out, r)
		}
		if err := s.Err(); err != nil {
			return nil, fmt.Errorf("read receipts: %s: %w", filepath.Base(name), err)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].AcceptedAt.Before(out[j].AcceptedAt) })
	return out, nil
}
