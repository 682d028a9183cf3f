package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/provisioning"
	"github.com/latchkey/latchkey/internal/store"
)

func newImportJob(r directory.Realm, created time.Time) provisioning.Job {
	return provisioning.Job{ID: latchkey.NewID(), TenantID: r.TenantID, RealmID: r.ID, State: provisioning.Queued,
		Options: provisioning.Options{UpdateExisting: true, SendBindingEmail: "cfg"}, Columns: []string{"username", "e,mail"},
		RowsTotal: 10, ActorType: "application", ActorID: "app", CreateTime: created, UpdateTime: created}
}

func testIdentitiesByUsername(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other := addRealm(t, s, r.TenantID, "Other")
	alice := addIdentity(t, s, r, "Alice")
	addIdentity(t, s, r, "bob")
	addIdentity(t, s, other, "carol")
	got, err := s.IdentitiesByUsername(ctx, r.ID, []string{"alice", "carol", "nobody"})
	must(t, err)
	equal(t, "identities by folded username", got, []directory.Identity{alice})
	got, err = s.IdentitiesByUsername(ctx, r.ID, nil)
	must(t, err)
	equal(t, "no usernames", len(got), 0)

	// An import's batch: more rows than one SQLite statement takes, traits
	// that need escapes, all created or (one username taken) none.
	batch := make([]directory.Identity, 1200)
	keys := []string{"alice", "carol", "nobody"}
	for i := range batch {
		batch[i] = newIdentity(r, fmt.Sprintf("user%04d", i))
		batch[i].Traits.GivenName = fmt.Sprintf("Ünï \"%d\" & <co>", i)
		keys = append(keys, directory.Fold(batch[i].Traits.Username))
	}
	taken := slices.Clone(batch)
	taken[700] = newIdentity(r, "BOB")
	wantErr(t, "a batch with a taken username", s.CreateIdentities(ctx, taken), latchkey.ErrDuplicate)
	got, err = s.IdentitiesByUsername(ctx, r.ID, keys)
	must(t, err)
	equal(t, "identities after a refused batch", got, []directory.Identity{alice})
	must(t, s.CreateIdentities(ctx, batch))
	got, err = s.IdentitiesByUsername(ctx, r.ID, keys)
	must(t, err)
	want := append([]directory.Identity{alice}, batch...)
	byID := func(a, b directory.Identity) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	equal(t, "identities of a batch by username", got, want)
	_, total, err := s.ListIdentities(ctx, r.ID, latchkey.ListOptions{Limit: 1})
	must(t, err)
	wantTotal(t, "identities counted", total, 2+len(batch))
}

func testImportJobs(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other := addRealm(t, s, r.TenantID, "Other")
	j := newImportJob(r, now)
	chunks := [][]byte{[]byte("username\nalice\n"), []byte("\xff\n")}
	// A file refused part way leaves no chunk behind.
	refused := errors.New("too large")
	wantErr(t, "a refused upload", s.Update(ctx, func(tx store.Tx) error {
		must(t, tx.AddImportChunk(ctx, j.ID, 0, chunks[0]))
		return refused
	}), refused)
	_, err := s.Provisioning().ImportChunk(ctx, j.ID, 0)
	wantErr(t, "a chunk of a refused upload", err, latchkey.ErrNotFound)
	// The chunks come first, the job when they are counted.
	must(t, s.Update(ctx, func(tx store.Tx) error {
		for i, c := range chunks {
			must(t, tx.AddImportChunk(ctx, j.ID, i, c))
		}
		return tx.CreateImportJob(ctx, j)
	}))
	got, err := s.GetImportJob(ctx, r.TenantID, r.ID, j.ID)
	must(t, err)
	equal(t, "job", got, j)
	_, err = s.GetImportJob(ctx, other.TenantID, other.ID, j.ID)
	wantErr(t, "the job through another realm", err, latchkey.ErrNotFound)
	for i, want := range chunks {
		c, err := s.Provisioning().ImportChunk(ctx, j.ID, i)
		must(t, err)
		equal(t, fmt.Sprintf("chunk %d, not UTF-8 included", i), c, want)
	}
	_, err = s.Provisioning().ImportChunk(ctx, j.ID, len(chunks))
	wantErr(t, "the chunk after the last", err, latchkey.ErrNotFound)

	// One unfinished job per realm.
	wantErr(t, "a second job in the realm", s.CreateImportJob(ctx, newImportJob(r, now)), latchkey.ErrDuplicate)
	must(t, s.CreateImportJob(ctx, newImportJob(other, now.Add(time.Second))))
	gone := newImportJob(directory.Realm{ID: latchkey.NewID(), TenantID: r.TenantID}, now)
	wantErr(t, "a job of a missing realm", s.CreateImportJob(ctx, gone), latchkey.ErrNoParent)

	// Claims take the oldest runnable job, once until its lease runs out.
	claimed, err := s.Provisioning().ClaimImportJob(ctx, "node-a", now, time.Minute)
	must(t, err)
	j.State = provisioning.Running
	j.UpdateTime = now
	equal(t, "claimed job", claimed, j)
	second, err := s.Provisioning().ClaimImportJob(ctx, "node-b", now, time.Minute)
	must(t, err)
	if second.RealmID != other.ID {
		t.Errorf("second claim took %s, want the other realm's job", second.ID)
	}
	second.State = provisioning.Succeeded
	must(t, s.SaveImportJob(ctx, second, 0, "node-b", now))
	_, err = s.Provisioning().ClaimImportJob(ctx, "node-b", now.Add(30*time.Second), time.Minute)
	wantErr(t, "a claim while every lease holds", err, latchkey.ErrNotFound)

	j.RowsDone, j.Created, j.Failed, j.UpdateTime = 5, 4, 1, now.Add(time.Second)
	wantErr(t, "a save without the lease", s.SaveImportJob(ctx, j, 0, "node-b", now.Add(time.Hour)), latchkey.ErrNotFound)
	wantErr(t, "a save that continues other progress", s.SaveImportJob(ctx, j, 3, "node-a", now.Add(time.Hour)), latchkey.ErrNotFound)
	must(t, s.SaveImportJob(ctx, j, 0, "node-a", now.Add(2*time.Minute)))
	got, err = s.GetImportJob(ctx, r.TenantID, r.ID, j.ID)
	must(t, err)
	equal(t, "saved progress", got, j)
	_, err = s.Provisioning().ClaimImportJob(ctx, "node-b", now.Add(90*time.Second), time.Minute)
	wantErr(t, "a claim while the extended lease holds", err, latchkey.ErrNotFound)
	taken, err := s.Provisioning().ClaimImportJob(ctx, "node-b", now.Add(3*time.Minute), time.Minute)
	must(t, err)
	if taken.ID != j.ID || taken.RowsDone != 5 {
		t.Errorf("after the lease ran out, claimed %+v, want job %s at row 5", taken, j.ID)
	}
	wantErr(t, "a save by the former owner", s.SaveImportJob(ctx, j, 5, "node-a", now.Add(time.Hour)), latchkey.ErrNotFound)

	// Failures, by line.
	fs := []provisioning.Failure{{Line: 9, Record: []byte("x,\xff"), Error: "nine"}, {Line: 3, Record: []byte("a,b"), Error: "three"}, {Line: 4, Record: []byte(""), Error: "four"}}
	must(t, s.AddImportFailures(ctx, j.ID, fs))
	wantErr(t, "a line twice", s.AddImportFailures(ctx, j.ID, fs[:1]), latchkey.ErrDuplicate)
	list, err := s.ListImportFailures(ctx, j.ID, 3, 1)
	must(t, err)
	equal(t, "failures after line 3, one", list, []provisioning.Failure{{Line: 4, Record: []byte{}, Error: "four"}})
	list, err = s.ListImportFailures(ctx, j.ID, 0, 10)
	must(t, err)
	lines := ids(list, func(f provisioning.Failure) string { return f.Error })
	sameIDs(t, "failures by line", lines, []string{"three", "four", "nine"})
	equal(t, "record bytes", list[2].Record, []byte("x,\xff"))
	must(t, s.AddImportFailures(ctx, j.ID, []provisioning.Failure{{Line: 10, Record: []byte("d"), Error: "four"}, {Line: 2, Record: []byte("b"), Error: "nine"}, {Line: 11, Record: []byte("e"), Error: "four"}}))
	problems, err := s.ListImportProblems(ctx, j.ID, 2)
	must(t, err)
	equal(t, "problems, the most frequent first, then by first line", problems,
		[]provisioning.Problem{{Error: "four", Rows: 3, FirstLine: 4}, {Error: "nine", Rows: 2, FirstLine: 2}})

	// Done: the file goes, and the realm may start another job.
	j.State = provisioning.Succeeded
	must(t, s.SaveImportJob(ctx, j, 5, "node-b", now.Add(time.Hour)))
	_, err = s.Provisioning().ImportChunk(ctx, j.ID, 0)
	wantErr(t, "the file of a done job", err, latchkey.ErrNotFound)
	_, err = s.Provisioning().ClaimImportJob(ctx, "node-c", now.Add(time.Hour), time.Minute)
	wantErr(t, "a claim of a done job", err, latchkey.ErrNotFound)
	must(t, s.CreateImportJob(ctx, newImportJob(r, now)))

	// Jobs and their failures go with the realm.
	must(t, s.DeleteRealm(ctx, other.TenantID, other.ID))
	_, err = s.GetImportJob(ctx, other.TenantID, other.ID, second.ID)
	wantErr(t, "a job of a deleted realm", err, latchkey.ErrNotFound)
}

func testSkipTotal(t *testing.T, s store.Store) {
	r := newRealm(t, s)
	want := addIdentities(t, s, r, "u", 5)
	got, total, err := s.ListIdentities(t.Context(), r.ID, latchkey.ListOptions{Limit: 10, SkipTotal: true})
	must(t, err)
	wantTotal(t, "SkipTotal", total, 0)
	sameIDs(t, "identities", ids(got, identityID), slices.Sorted(slices.Values(want)))
}
