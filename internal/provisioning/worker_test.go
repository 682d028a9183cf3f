package provisioning_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/provisioning"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

// groupMadeMeanwhile creates a group just before the first transaction it
// passes on: an administrator's, made after an import planned its first
// batch to create the group and before that batch is stored.
type groupMadeMeanwhile struct {
	provisioning.Store
	group directory.Group
	once  sync.Once
	// err is the group's creation's; first the outcome of the transaction
	// that followed it.
	err, first error
}

func (s *groupMadeMeanwhile) Update(ctx context.Context, fn func(provisioning.Tx) error) error {
	made := false
	s.once.Do(func() {
		s.err = s.Store.Update(ctx, func(tx provisioning.Tx) error { return tx.CreateGroup(ctx, s.group) })
		made = true
	})
	err := s.Store.Update(ctx, fn)
	if made {
		s.first = err
	}
	return err
}

// failsFirst rolls back the first transaction it passes on after its
// statements ran, as if its commit had failed on a duplicate.
type failsFirst struct {
	provisioning.Store
	once sync.Once
}

func (s *failsFirst) Update(ctx context.Context, fn func(provisioning.Tx) error) error {
	first := false
	s.once.Do(func() { first = true })
	return s.Store.Update(ctx, func(tx provisioning.Tx) error {
		if err := fn(tx); err != nil || !first {
			return err
		}
		return fmt.Errorf("%w: made up", latchkey.ErrDuplicate)
	})
}

// TestImportBatchesInOrder: imports of three batches, each stored while
// the next is planned and stored, on both engines.
//   - The first batch finds a group it was to create made meanwhile: it
//     fails, and it and the batch stored beside it are planned and stored
//     again with the group as it is.
//   - The first batch fails after its statements: the batch after it, which
//     continues its progress (and needs no group of the first), does not
//     commit either.
//
// Either way every row is created once, in its groups, and the job counts
// so.
func TestImportBatchesInOrder(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name+"/group made meanwhile", func(t *testing.T) {
			st := eng.Open(t)
			tenant, realm := realmIn(t, st)
			staff, err := directory.NewGroup(tenant, realm, directory.Group{DisplayName: "Staff"}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			meanwhile := &groupMadeMeanwhile{Store: st.Provisioning(), group: staff}
			importInBatches(t, st, tenant, realm, meanwhile)
			if meanwhile.err != nil {
				t.Fatal(meanwhile.err)
			}
			if !errors.Is(meanwhile.first, latchkey.ErrDuplicate) {
				t.Fatalf("the first batch's transaction: %v, want a duplicate group", meanwhile.first)
			}
			if g := groupNamed(t, st, realm, "staff"); g.ID != staff.ID {
				t.Errorf("staff is %s, want the group made meanwhile, %s", g.ID, staff.ID)
			}
		})
		t.Run(eng.Name+"/first batch fails late", func(t *testing.T) {
			st := eng.Open(t)
			tenant, realm := realmIn(t, st)
			// The groups exist: the second batch needs nothing of the first.
			dir := directory.NewService(st.Directory())
			for i := range 101 {
				name := fmt.Sprintf("team%d", i)
				if i == 100 {
					name = "staff"
				}
				if _, err := dir.CreateGroup(t.Context(), tenant, realm, directory.Group{DisplayName: name}, nil); err != nil {
					t.Fatal(err)
				}
			}
			importInBatches(t, st, tenant, realm, &failsFirst{Store: st.Provisioning()})
		})
	}
}

// importInBatches imports 12,000 rows (three batches) in groups, staff and
// one of 100 teams, through a worker on store, and checks that each was
// created once in its groups.
func importInBatches(t *testing.T, st *sqlstore.Store, tenant, realm string, store provisioning.Store) {
	const rows = 12_000
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	j, err := provisioning.NewService(st.Provisioning()).CreateJob(ctx, tenant, realm, bytes.NewReader(csvWithGroups(rows)), provisioning.Options{CreateGroups: true})
	if err != nil {
		t.Fatal(err)
	}
	svc := provisioning.NewService(store)
	w := &provisioning.Worker{Service: svc, Logger: slog.New(slog.DiscardHandler), Owner: "test", PollInterval: 10 * time.Millisecond}
	go w.Run(ctx)
	for !j.Done() {
		time.Sleep(20 * time.Millisecond)
		if j, err = svc.GetJob(ctx, tenant, realm, j.ID); err != nil {
			t.Fatal(err)
		}
	}
	if j.State != provisioning.Succeeded || j.RowsDone != rows || j.Created != rows || j.Updated+j.Unchanged+j.Failed != 0 {
		t.Fatalf("job %+v, want %d rows created", j, rows)
	}
	groups, total, err := st.ListGroups(ctx, realm, latchkey.ListOptions{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	if total != 101 {
		t.Errorf("%d groups, want staff and 100 teams", total)
	}
	for _, g := range groups {
		_, members, err := st.ListMembers(ctx, g.ID, latchkey.ListOptions{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		want := rows / 100
		if directory.Fold(g.DisplayName) == "staff" {
			want = rows
		}
		if members != want {
			t.Errorf("group %s: %d members, want %d", g.DisplayName, members, want)
		}
	}
}

// groupNamed returns the realm's group of that (folded) name.
func groupNamed(t *testing.T, st *sqlstore.Store, realm, name string) directory.Group {
	groups, _, err := st.ListGroups(t.Context(), realm, latchkey.ListOptions{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if directory.Fold(g.DisplayName) == name {
			return g
		}
	}
	t.Fatalf("no group %s", name)
	return directory.Group{}
}
