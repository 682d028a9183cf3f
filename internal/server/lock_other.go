//go:build !unix

package server

// lockDataDir takes no lock where flock(2) is missing: there, restore
// cannot tell a running node and the operator must stop it first.
func lockDataDir(string, bool) (func(), error) { return func() {}, nil }
