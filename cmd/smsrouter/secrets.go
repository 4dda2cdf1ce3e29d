package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/seal"
)

const secretsUsage = `want one of:
  smsrouter secrets new-key                      print a fresh secret key (base64) for SMSROUTER_SECRET_KEY or a key file
  smsrouter secrets reseal [--config FILE]       seal everything stored with an older key with the newest one, then
                                                 forget the older keys: run after every server has the new key first`

// secretKeys returns the keys that seal texts and webhook secrets: those
// of SMSROUTER_SECRET_KEY, else the secrets block's keys, else its key
// file. With none of them it returns nil, for commands that touch neither
// texts nor secrets; serve creates the key file first (ensureKeyFile).
func secretKeys(cfg *config.Config) (*seal.Ring, error) {
	if v, ok := os.LookupEnv(config.EnvSecretKey); ok && strings.TrimSpace(v) != "" {
		keys, err := seal.ParseKeys(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", config.EnvSecretKey, err)
		}
		return seal.NewRing(keys...)
	}
	if len(cfg.Secrets.Keys) > 0 {
		return seal.NewRing(cfg.Secrets.Keys...)
	}
	keys, err := seal.ReadKeyFile(cfg.Secrets.KeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return seal.NewRing(keys...)
}

// ensureKeyFile creates the key file when no key is given anywhere, so
// that a default install seals with zero configuration, and says so once.
// A key made here is this node's own: servers sharing a PostgreSQL
// database must be given the same one, which the store checks at start.
func ensureKeyFile(cfg *config.Config, log hclog.Logger) error {
	if v, ok := os.LookupEnv(config.EnvSecretKey); (ok && strings.TrimSpace(v) != "") || len(cfg.Secrets.Keys) > 0 {
		return nil
	}
	keys, created, err := seal.CreateKeyFile(cfg.Secrets.KeyFile)
	if err != nil {
		return fmt.Errorf("no secret key is configured (%s, or the secrets block's keys or key_file), and creating one failed: %w",
			config.EnvSecretKey, err)
	}
	if !created {
		return nil
	}
	log.Info("no secret key configured: generated one to seal message texts and webhook secrets; back the file up",
		"key_file", cfg.Secrets.KeyFile, "key_id", keys[0].ID())
	if cfg.Database.Driver == config.DriverPostgres {
		log.Warn("the generated secret key is this server's alone: every server sharing the PostgreSQL database needs the same key "+
			"(copy the key file to them, or set "+config.EnvSecretKey+" on all); a server started with another key refuses to start",
			"key_file", cfg.Secrets.KeyFile)
	}
	return nil
}

func secretsCmd(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("secrets " + sub)
	cfgPath := fs.String("config", "", "config file whose database and keys to use (default: the embedded default)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	switch sub {
	case "new-key":
		k, text := seal.GenerateKey()
		fmt.Fprintf(stdout, "%s\n", text)
		fmt.Fprintf(stderr, "key id %s: put it first in %s or the key file, the older keys after it\n", k.ID(), config.EnvSecretKey)
		return nil
	case "reseal":
	default:
		return fmt.Errorf("unknown subcommand %q: %s", sub, secretsUsage)
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	st, err := openCommandStore(ctx, "secrets "+sub, *cfgPath, cfg, dbMustExist, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := st.Reseal(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sealed again with the newest key: %d webhook secrets, %d message texts\n", r.WebhookSecrets, r.MessageTexts)
	if len(r.Retired) > 0 {
		fmt.Fprintf(stdout, "nothing is sealed with key %s any more: remove it from the configuration\n", strings.Join(r.Retired, ", "))
	}
	return nil
}
