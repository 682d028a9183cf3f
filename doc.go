// Package latchkey holds the vocabulary every part of Latchkey shares: the
// error type with its API codes, the sentinel errors stores return, random
// identifiers, list options, the actor and request id a context carries, and
// the Clock that every service, store, worker and cache reads the time from.
//
// It must not import other Latchkey packages but internal/filter: every
// other package imports it.
package latchkey
