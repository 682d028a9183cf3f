//go:build unix

package server

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir takes the data dir's lock without waiting: shared for a
// node, which others may share, exclusive for a restore. The kernel
// releases it when the process dies, even by kill -9.
func lockDataDir(dir string, exclusive bool) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}
