// Package delivery owns Latchkey's outgoing HTTP deliveries: a transactional
// outbox (a delivery is queued in the same transaction as the change that
// causes it, so none is lost on a crash or sent for a rolled-back change)
// and the Worker that POSTs them, with a lease so that nodes sharing one
// database send each delivery once, a timeout, retries with backoff for
// about a day, and bounded concurrency so that a slow or dead target holds up
// no other. What is sent is made by a Kind when it is sent (a back-channel
// logout token, signed by oauth; a webhook message, signed by
// internal/webhook), so that what it signs and dates is fresh on every
// attempt.
//
// It must not import storage engines or other domain packages; it describes
// the storage it needs as Tx and Store, which internal/store implements.
package delivery
