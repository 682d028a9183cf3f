// Package latchkey holds the vocabulary every part of Latchkey shares: the
// error type with its API codes, the sentinel errors stores return, random
// identifiers, list options, and the actor and request id a context carries.
//
// It must not import other Latchkey packages but internal/filter: every
// other package imports it.
package latchkey
