// Package webhook owns a realm's webhooks: subscriptions of a URL to the
// realm's events (by action, or by prefix such as "identity.*"), delivered
// through the outbox of internal/delivery in the Standard Webhooks format
// (https://www.standardwebhooks.com): a JSON body {"type","timestamp","data"}
// and the headers webhook-id, webhook-timestamp and webhook-signature,
// signed with the webhook's secret at the time of each attempt so that a
// retry's timestamp is fresh. The store queues a delivery for every
// matching webhook (Deliveries) in the transaction that records an event,
// so every event type fans out and nothing is sent for a change that rolled
// back. Targets on loopback, private, link-local or metadata addresses are
// refused when a webhook is saved and again at each connection, after DNS.
//
// It must not import storage engines, internal/httpapi or internal/console.
package webhook
