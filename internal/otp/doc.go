// Package otp owns e-mail one-time codes: the rules of asking for a 6-digit
// code for an e-mail address (one live code per address of a realm, 10
// minutes, rate limited per address and per client IP across all nodes),
// its delivery through the mail outbox in the realm's theme, and its check
// (5 tries, constant-time, kept only as a keyed hash). A correct code proves
// the address of one active identity; it then signs that identity in
// (the caller starts the session and asks oauth, where policy decides) and/or
// lets it create a passkey through a self-service credential binding job
// (passkey's, so a code-made passkey is bound like any other).
//
// It is its own package, not part of passkey, because a code is not a
// passkey: its state, limits and mail are separate, and it uses passkey only
// through the binding job it creates.
//
// Signing in is the caller's. It must not import HTTP packages, storage
// engines or oauth; it reaches the database through its Tx and Store
// interfaces.
package otp
