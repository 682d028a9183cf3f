package delivery

import (
	"context"
	"net/url"
	"time"

	"github.com/latchkey/latchkey"
)

// States of a Delivery.
const (
	StatePending   = "pending"   // waiting for (another) attempt
	StateDelivered = "delivered" // the target answered 2xx
	StateFailed    = "failed"    // refused for good, or still failing after RetryFor
)

// Delivery is one HTTP POST in the outbox.
type Delivery struct {
	ID, TenantID, RealmID string
	// Kind names the Kind that makes the request, e.g. "backchannel_logout".
	Kind string
	// Ref names what the delivery is about, e.g. "application:<id>".
	Ref string
	URL string
	// Target is URL's scheme and host: a worker sends to one target only a
	// few deliveries at a time.
	Target string
	// Payload is the Kind's data (JSON), from which it makes the request.
	Payload         string
	State           string
	Attempts        int // attempts started, counted when claimed
	LastStatus      int // HTTP status of the last answer; 0 for none
	LastError       string
	LastAttemptTime time.Time // zero before the first attempt ended
	NextAttemptTime time.Time
	CreateTime      time.Time
	UpdateTime      time.Time
}

// New returns a pending delivery due at now, with a new id.
func New(now time.Time, tenantID, realmID, kind, ref, target, payload string) Delivery {
	return Delivery{ID: latchkey.NewID(), TenantID: tenantID, RealmID: realmID, Kind: kind, Ref: ref,
		URL: target, Target: targetOf(target), Payload: payload, State: StatePending,
		NextAttemptTime: now, CreateTime: now, UpdateTime: now}
}

// targetOf is the scheme and host of a URL (the whole text when it has none).
func targetOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// Outcome is how an attempt ended.
type Outcome struct {
	State  string // StatePending (due again at Next), StateDelivered or StateFailed
	Time   time.Time
	Status int // the HTTP status; 0 when there was no answer
	Error  string
	Next   time.Time // for StatePending
}

// Tx is what delivery needs inside another domain's transaction (whose Tx
// has EnqueueDelivery too), so that a delivery is queued with its cause.
type Tx interface {
	// EnqueueDelivery adds d to the outbox; it is sent only once the
	// transaction commits.
	EnqueueDelivery(ctx context.Context, d Delivery) error
}

// Lane is the deliveries of one kind to one target: a worker sends only a
// few of a lane at once.
type Lane struct{ Kind, Target string }

// LaneOf is d's lane.
func LaneOf(d Delivery) Lane { return Lane{d.Kind, d.Target} }

// Lanes selects the lanes a claim looks in: every one but Full, or, when
// Only is not empty, only those, each up to its room.
type Lanes struct {
	Only []LaneRoom
	Full []Lane
}

// LaneRoom is a lane and how many of its deliveries a claim may take.
type LaneRoom struct {
	Lane
	Room int
}

// Store is the outbox. Claims are safe with several nodes on one database:
// a delivery is leased to one owner at a time, and FinishAttempt changes it
// only while the caller still holds its lease (else latchkey.ErrNotFound).
type Store interface {
	Tx
	// Update runs fn in one read-write transaction, committed when fn returns nil.
	Update(ctx context.Context, fn func(Tx) error) error
	// ClaimDeliveries leases to owner until now+lease up to limit pending
	// deliveries due at now, not leased (or whose lease ran out) and in
	// lanes, first due first, counting one more attempt on each, in one
	// transaction. take, when not nil, is asked of each due delivery's
	// lane in that order whether to claim it (it may count them): a lane
	// with room for only some is claimed that far. A claim of lanes.Only
	// takes each of them up to its Room, without limit or take.
	ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, lanes Lanes, take func(Lane) bool) ([]Delivery, error)
	// GetDelivery returns latchkey.ErrNotFound for an unknown id.
	GetDelivery(ctx context.Context, id string) (Delivery, error)
	// FinishAttempt records an attempt's outcome and releases the lease
	// (with the outcomes of concurrent calls, in one transaction).
	FinishAttempt(ctx context.Context, id, owner string, o Outcome) error
}
