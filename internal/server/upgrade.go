package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// A serving node records that it was seen every nodeSeenPeriod; one unseen
// for nodeGone is taken for gone (killed, or cut off from the database).
const (
	nodeSeenPeriod = time.Minute
	nodeGone       = 3 * nodeSeenPeriod
)

// checkSchema refuses a database whose schema a newer release has
// contracted past what this binary knows. A schema newer by expand-only
// migrations is served, with a warning.
func checkSchema(ctx context.Context, cfg Config, st store.Store) error {
	current, known, err := st.SchemaVersion(ctx)
	if err != nil || current <= known {
		return err
	}
	floor, err := st.SchemaFloor(ctx)
	if err != nil {
		return err
	}
	if floor > known {
		return fmt.Errorf("this Latchkey (%s) knows the database schema up to version %d, and a newer release contracted it at version %d (now %d): run a release that knows version %d or later",
			cfg.Version, known, floor, current, floor)
	}
	cfg.Logger.Warn("the database's schema is newer than this release's: serving beside newer nodes (its newer migrations only add); upgrade this node",
		"schema", current, "known", known)
	return nil
}

// record writes the node's record, or that it was seen again.
func (n *Node) record(ctx context.Context) error {
	if n.started.IsZero() {
		n.started = n.cfg.Clock.Now()
	}
	host, _ := os.Hostname()
	if _, port, err := net.SplitHostPort(n.cfg.Listen); err == nil {
		host = net.JoinHostPort(host, port)
	}
	_, known, err := n.Store.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	return n.Store.RecordNode(ctx, store.Node{ID: n.MailWorker.Owner, Version: n.cfg.Version, SchemaVersion: known,
		Host: host, StartTime: n.started, SeenTime: n.cfg.Clock.Now()})
}

// forget removes the node's record as it closes.
func (n *Node) forget() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Store.ForgetNode(ctx, n.MailWorker.Owner); err != nil {
		n.cfg.Logger.Warn("forget the node's record", "err", err)
	}
}

// MigrationCheck is what `latchkey migrate --check` found.
type MigrationCheck struct {
	Current, Known int64   // the database's schema version, this binary's newest
	Pending        []int64 // contract migrations this binary would apply
	// Nodes are those seen serving in the last few minutes; NodesRecorded
	// is false when the schema predates the nodes' records.
	Nodes         []store.Node
	NodesRecorded bool
	// Problems say why this binary and the running nodes cannot share the
	// database; none means they can.
	Problems []string
}

// CheckMigration tells, without changing anything, whether this binary
// may migrate and serve the configured database beside the nodes serving
// from it: expand migrations are always safe; a contract migration is not
// while a node whose binary predates it runs.
func CheckMigration(ctx context.Context, cfg Config) (MigrationCheck, error) {
	var c MigrationCheck
	st, err := OpenStore(cfg)
	if err != nil {
		return c, err
	}
	defer st.Close()
	if c.Current, c.Known, err = st.SchemaVersion(ctx); err != nil {
		return c, err
	}
	var floor int64
	if c.NodesRecorded = c.Current >= sqlstore.NodesSchema; c.NodesRecorded {
		if floor, err = st.SchemaFloor(ctx); err != nil {
			return c, err
		}
		if c.Nodes, err = st.ListNodes(ctx, cfg.Clock.Now().Add(-nodeGone)); err != nil {
			return c, err
		}
	}
	c.Pending, c.Problems = compatibility(c.Current, c.Known, floor, sqlstore.Contracts(), c.Nodes)
	return c, nil
}

// compatibility returns the contract migrations that a binary knowing the
// schema up to known would apply to a database at current, and why it
// cannot share the database with the nodes.
func compatibility(current, known, floor int64, contracts []int64, nodes []store.Node) (pending []int64, problems []string) {
	if floor > known {
		problems = append(problems, fmt.Sprintf("this binary knows the schema up to version %d; a newer release contracted it at version %d: use that release or a later one", known, floor))
	}
	for _, v := range contracts {
		if v > current && v <= known {
			pending = append(pending, v)
		}
	}
	for _, nd := range nodes {
		for _, v := range slices.Concat(pending, []int64{floor}) {
			if v > nd.SchemaVersion {
				problems = append(problems, fmt.Sprintf("node %s on %s (Latchkey %s, schema %d) cannot run on schema %d, which contracts what it reads: upgrade it first",
					nd.ID, nd.Host, nd.Version, nd.SchemaVersion, v))
				break
			}
		}
	}
	return pending, problems
}
