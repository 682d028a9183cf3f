package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/server"
)

func backupCmd(cfg *server.Config) *cobra.Command {
	var out, passphraseFile string
	var includeKey bool
	cmd := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Write a consistent backup of the embedded SQLite database, while nodes serve from it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out FILE is required")
			}
			if includeKey != (passphraseFile != "") {
				return errors.New("--include-master-key and --passphrase-file go together: the key is sealed with the passphrase")
			}
			opts := server.BackupOptions{Version: versionString()}
			var err error
			if includeKey {
				if opts.Passphrase, err = readPassphrase(passphraseFile); err != nil {
					return err
				}
			}
			h, err := server.Backup(cmd.Context(), *cfg, out, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup of schema version %d written to %s (%d bytes of database)\n", h.SchemaVersion, out, h.DatabaseSize)
			if h.MasterKey == nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "the master key is NOT in the backup: keep it (--master-key, or %s in the data dir) apart from the backup; a restore needs it\n", secretbox.KeyFile)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "file to write the backup to (replaced only once the new one is whole)")
	f.BoolVar(&includeKey, "include-master-key", false, "put the master key in the backup, sealed with the passphrase of --passphrase-file")
	f.StringVar(&passphraseFile, "passphrase-file", "", "file whose first line is the passphrase that seals the master key")
	return cmd
}

func restoreCmd(cfg *server.Config) *cobra.Command {
	var passphraseFile string
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the embedded SQLite database with a backup (no node may run on the data dir)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var passphrase []byte
			if passphraseFile != "" {
				var err error
				if passphrase, err = readPassphrase(passphraseFile); err != nil {
					return err
				}
			}
			r, err := server.Restore(cmd.Context(), *cfg, args[0], passphrase)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "restored the backup of %s (schema version %d, Latchkey %s) into %s\n",
				r.Header.CreateTime.Format("2006-01-02 15:04:05Z07:00"), r.Header.SchemaVersion, r.Header.LatchkeyVersion, cfg.DataDir)
			if r.Previous != "" {
				fmt.Fprintf(w, "the database it replaced is kept as %s\n", r.Previous)
			}
			if r.KeyWritten {
				fmt.Fprintf(w, "the backup's master key is in %s\n", secretbox.KeyFile)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&passphraseFile, "passphrase-file", "", "file whose first line is the passphrase of a backup made with --include-master-key; its master key is then used (and written to the data dir unless --master-key is set)")
	return cmd
}

// readPassphrase returns the first line of the file.
func readPassphrase(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--passphrase-file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSuffix(line, "\r"); line == "" {
		return nil, errors.New("--passphrase-file: the passphrase is empty")
	}
	return []byte(line), nil
}
