package sqlstore

import (
	"context"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// contractMarker marks a contract migration: one that drops or renames
// what an older release reads. It must also insert its version into
// schema_contracts.
const contractMarker = "-- +latchkey contract"

// NodesSchema is the migration that made the nodes table: nodes of
// releases before it do not record themselves.
const NodesSchema = 28

// Contracts returns the versions of the embedded contract migrations.
func Contracts() []int64 {
	var versions []int64
	files, _ := fs.Glob(migrations, "migrations/*.sql")
	for _, f := range files {
		b, err := migrations.ReadFile(f)
		if err != nil || !slices.Contains(strings.Split(string(b), "\n"), contractMarker) {
			continue
		}
		v, err := strconv.ParseInt(leadingDigits.FindString(f[len("migrations/"):]), 10, 64)
		if err == nil {
			versions = append(versions, v)
		}
	}
	return versions
}

var leadingDigits = regexp.MustCompile(`^\d+`)

// SchemaFloor returns the newest contract migration applied, or 0.
func (s *Store) SchemaFloor(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_contracts`).Scan(&v)
	return v, err
}

// RecordNode inserts n, or updates its seen time.
func (s *Store) RecordNode(ctx context.Context, n store.Node) error {
	_, err := s.writer.ExecContext(ctx, `INSERT INTO nodes (id, version, schema_version, host, start_time, seen_time)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET seen_time = excluded.seen_time`,
		n.ID, n.Version, n.SchemaVersion, n.Host, micros(n.StartTime), micros(n.SeenTime))
	return err
}

// ForgetNode deletes the node's record.
func (s *Store) ForgetNode(ctx context.Context, id string) error {
	_, err := s.writer.ExecContext(ctx, `DELETE FROM nodes WHERE id = $1`, id)
	return err
}

// ListNodes returns the nodes seen since the time given, oldest start first.
func (s *Store) ListNodes(ctx context.Context, seenSince time.Time) ([]store.Node, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, version, schema_version, host, start_time, seen_time FROM nodes
WHERE seen_time >= $1 ORDER BY start_time, id`, micros(seenSince))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var nodes []store.Node
	for rows.Next() {
		var n store.Node
		var start, seen int64
		if err := rows.Scan(&n.ID, &n.Version, &n.SchemaVersion, &n.Host, &start, &seen); err != nil {
			return nil, err
		}
		n.StartTime, n.SeenTime = fromMicros(start), fromMicros(seen)
		nodes = append(nodes, n)
	}
	return nodes, rows.Err()
}
