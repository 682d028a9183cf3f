// Package mail owns Latchkey's outgoing e-mail and its branding: the
// transactional outbox (messages are enqueued in the same transaction as the
// change that causes them, so none is lost or sent for a rolled-back change),
// the Worker that delivers them with retries and backoff, the SMTP and log
// Senders, the templates of the credential binding e-mail and of the
// one-time code e-mail, and the realm Themes (API §8) that style them.
//
// It must not import HTTP packages, storage engines or internal/passkey; it
// describes the storage it needs as Tx and Store, which internal/store
// implements.
package mail
