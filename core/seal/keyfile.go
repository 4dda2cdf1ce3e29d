package seal

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ParseKeys reads keys separated by commas or newlines, newest first, as
// the SMSROUTER_SECRET_KEY variable and key files hold them. Blank entries
// and lines starting with # are skipped.
func ParseKeys(text string) ([]Key, error) {
	var keys []Key
	n := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, part := range strings.Split(line, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			n++
			k, err := ParseKey(part)
			if err != nil {
				return nil, fmt.Errorf("key %d: %w", n, err)
			}
			keys = append(keys, k)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no key in it")
	}
	return keys, nil
}

// ReadKeyFile reads the keys of a key file (ParseKeys's format). A file
// other users may read is refused: the key protects everything sealed with
// it.
func ReadKeyFile(path string) ([]Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read secret key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret key file %s may be read by other users (mode %04o); make it private with: chmod 600 %s",
			path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret key file: %w", err)
	}
	keys, err := ParseKeys(string(b))
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return keys, nil
}

// CreateKeyFile writes a fresh key to a new file at path, readable by its
// owner only, creating its directory. If the file exists (another process
// created it first) its keys are read instead; created says which. The
// file appears complete or not at all: it is written aside and linked into
// place.
func CreateKeyFile(path string) (keys []Key, created bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, false, fmt.Errorf("create the directory of secret key file %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, ".smsrouter-key-*")
	if err != nil {
		return nil, false, fmt.Errorf("create secret key file %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	k, text := GenerateKey()
	content := "# smsrouter secret key: seals message texts and webhook secrets at rest.\n" +
		"# Keys newest first, one per line; the first seals, all open. Back this file up:\n" +
		"# without it nothing sealed with it can be read again.\n" + text + "\n"
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("write secret key file %s: %w", path, err)
	}
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		keys, err := ReadKeyFile(path)
		return keys, false, err
	} else if err != nil {
		return nil, false, fmt.Errorf("create secret key file %s: %w", path, err)
	}
	return []Key{k}, true, nil
}
