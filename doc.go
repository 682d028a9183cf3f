// Package latchkey holds the vocabulary every part of Latchkey shares: the
// error type with its API codes, the sentinel errors stores return, random
// identifiers, list options, and the actor and request id a context carries.
//
// It imports nothing from this module but internal/filter, so that every
// other package can import it.
package latchkey
