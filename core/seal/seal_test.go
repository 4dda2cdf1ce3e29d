package seal_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/smsrouter/smsrouter/core/seal"
)

func mustRing(t *testing.T, keys ...seal.Key) *seal.Ring {
	t.Helper()
	r, err := seal.NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSealOpens(t *testing.T) {
	oldKey, _ := seal.GenerateKey()
	newKey, _ := seal.GenerateKey()
	other, _ := seal.GenerateKey()
	byOld := mustRing(t, oldKey)
	rotated := mustRing(t, newKey, oldKey)
	for _, tc := range []struct {
		name       string
		sealWith   *seal.Ring
		openWith   *seal.Ring
		text       string
		sealRecord string
		openRecord string
		tamper     func(string) string
		wantErr    func(error) bool
		wantKeyID  string // the key the value names
	}{
		{name: "round trip", sealWith: byOld, openWith: byOld, text: "Your verification code is 089431"},
		{name: "empty text", sealWith: byOld, openWith: byOld, text: ""},
		{name: "non-ASCII text", sealWith: byOld, openWith: byOld, text: "ကုဒ် 089431 ✓"},
		{name: "rotation: the old key still opens", sealWith: byOld, openWith: rotated, text: "sealed before the rotation"},
		{name: "rotation: the newest key seals", sealWith: rotated, openWith: rotated, text: "after", wantKeyID: newKey.ID()},
		{name: "a ring without the key names it", sealWith: byOld, openWith: mustRing(t, other), text: "x",
			wantErr: func(err error) bool {
				var u *seal.UnknownKeyError
				return errors.As(err, &u) && u.KeyID == oldKey.ID() && strings.Contains(err.Error(), oldKey.ID())
			}},
		{name: "an old key removed too early is named", sealWith: byOld, openWith: mustRing(t, newKey), text: "x",
			wantErr: func(err error) bool {
				var u *seal.UnknownKeyError
				return errors.As(err, &u) && u.KeyID == oldKey.ID()
			}},
		{name: "another record's value is refused", sealWith: byOld, openWith: byOld, text: "x",
			sealRecord: "messages.text:msg_1", openRecord: "messages.text:msg_2",
			wantErr: func(err error) bool {
				var te *seal.TamperedError
				return errors.As(err, &te) && te.KeyID == oldKey.ID()
			}},
		{name: "a flipped byte is refused", sealWith: byOld, openWith: byOld, text: "Your code is 089431",
			tamper: func(s string) string {
				b := []byte(s)
				i := len(b) - 5
				b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
				return string(b)
			},
			wantErr: func(err error) bool { var te *seal.TamperedError; return errors.As(err, &te) }},
		{name: "a truncated value is refused", sealWith: byOld, openWith: byOld, text: "Your code is 089431",
			tamper:  func(s string) string { return s[:len(s)-10] },
			wantErr: func(err error) bool { var te *seal.TamperedError; return errors.As(err, &te) }},
		{name: "a clear value is not sealed", sealWith: byOld, openWith: byOld, text: "x",
			tamper:  func(string) string { return "Your code is 089431" },
			wantErr: func(err error) bool { return errors.Is(err, seal.ErrNotSealed) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.sealRecord
			if rec == "" {
				rec = "webhooks.secret:acc_1"
			}
			openRec := tc.openRecord
			if openRec == "" {
				openRec = rec
			}
			v := tc.sealWith.Seal(tc.text, rec)
			if len(tc.text) > 4 && strings.Contains(v, tc.text) {
				t.Fatalf("sealed value %q contains the plaintext", v)
			}
			if !seal.IsSealed(v) {
				t.Fatalf("IsSealed(%q) = false", v)
			}
			if tc.wantKeyID != "" {
				if id, _ := seal.KeyID(v); id != tc.wantKeyID {
					t.Fatalf("sealed with key %s, want %s", id, tc.wantKeyID)
				}
			}
			if tc.tamper != nil {
				v = tc.tamper(v)
			}
			got, err := tc.openWith.Open(v, openRec)
			if tc.wantErr != nil {
				if err == nil || !tc.wantErr(err) {
					t.Fatalf("Open = %q, %v; want the expected error", got, err)
				}
				return
			}
			if err != nil || got != tc.text {
				t.Fatalf("Open = %q, %v; want %q", got, err, tc.text)
			}
		})
	}
}

func TestSealIsRandomised(t *testing.T) {
	k, _ := seal.GenerateKey()
	r := mustRing(t, k)
	if a, b := r.Seal("same", "r"), r.Seal("same", "r"); a == b {
		t.Fatalf("two seals of one text are equal: %q", a)
	}
}

func TestParseKey(t *testing.T) {
	raw := make([]byte, seal.KeySize)
	for i := range raw {
		raw[i] = byte(i)
	}
	want, err := seal.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, text string
		ok         bool
	}{
		{"base64", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", true},
		{"base64 without padding", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", true},
		{"hex", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", true},
		{"surrounding space", "  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", true},
		{"too short", "AAECAwQFBgcICQoLDA0ODw==", false},
		{"a passphrase", "correct horse battery staple", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := seal.ParseKey(tc.text)
			if !tc.ok {
				if err == nil {
					t.Fatalf("ParseKey accepted %q", tc.text)
				}
				if strings.Contains(err.Error(), strings.TrimSpace(tc.text)) {
					t.Fatalf("the error quotes the key: %v", err)
				}
				return
			}
			if err != nil || k.ID() != want.ID() {
				t.Fatalf("ParseKey = %v, %v; want %v", k, err, want)
			}
		})
	}
}

func TestKeyNeverPrintsItsBytes(t *testing.T) {
	k, text := seal.GenerateKey()
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(s, text) || !strings.Contains(s, k.ID()) {
			t.Fatalf("printed key %q: want its id, never its bytes", s)
		}
	}
}

func TestParseKeys(t *testing.T) {
	a, ta := seal.GenerateKey()
	b, tb := seal.GenerateKey()
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"comma separated", ta + "," + tb, []string{a.ID(), b.ID()}},
		{"lines with comments", "# newest first\n" + tb + "\n\n" + ta + "\n", []string{b.ID(), a.ID()}},
		{"nothing", "# only a comment\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := seal.ParseKeys(tc.text)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("ParseKeys accepted %q", tc.text)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range keys {
				got = append(got, k.ID())
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("ids %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "smsrouter.key")
	// Nodes starting together from one directory end up with one key.
	var wg sync.WaitGroup
	ids := make([]string, 4)
	created := make([]bool, 4)
	for i := range ids {
		wg.Go(func() {
			keys, c, err := seal.CreateKeyFile(path)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i], created[i] = keys[0].ID(), c
		})
	}
	wg.Wait()
	n := 0
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("key ids %v: want one key", ids)
		}
		if created[i] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d callers created the file, want 1", n)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	keys, err := seal.ReadKeyFile(path)
	if err != nil || keys[0].ID() != ids[0] {
		t.Fatalf("ReadKeyFile = %v, %v", keys, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := seal.ReadKeyFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key file: %v, want a refusal saying how to fix it", err)
	}
}

// BenchmarkSeal is the cost sealing adds per accepted message (one Seal)
// and per dispatched one (one Open), for a short text.
func BenchmarkSeal(b *testing.B) {
	k, _ := seal.GenerateKey()
	r, _ := seal.NewRing(k)
	const text = "Your verification code is 089431"
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			r.Seal(text, "messages.text:msg_0123456789abcdef01234567")
		}
	})
	v := r.Seal(text, "messages.text:msg_0123456789abcdef01234567")
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.Open(v, "messages.text:msg_0123456789abcdef01234567"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
