package provisioning_test

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/provisioning"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestBulkJobs runs each bulk action as a job on both engines: identities
// changed, those already so counted unchanged, unknown ids failed with a
// reason, and the refusals that come before a job is queued.
func TestBulkJobs(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			ctx := t.Context()
			st := eng.Open(t)
			tenant, realm := realmIn(t, st)
			dir := directory.NewService(st.Directory())
			svc := provisioning.NewService(st.Provisioning())
			id := map[string]string{}
			for _, name := range []string{"ada", "bea", "cy", "dee", "eve", "fay"} {
				i, err := dir.CreateIdentity(ctx, tenant, realm, directory.Identity{DisplayName: name, Traits: directory.Traits{Username: name}})
				if err != nil {
					t.Fatal(err)
				}
				id[name] = i.ID
			}
			suspended := directory.StatusSuspended
			if _, err := dir.UpdateIdentity(ctx, tenant, realm, id["fay"], directory.IdentityPatch{Status: &suspended}); err != nil {
				t.Fatal(err)
			}
			g, err := dir.CreateGroup(ctx, tenant, realm, directory.Group{DisplayName: "Staff"}, []string{id["ada"]})
			if err != nil {
				t.Fatal(err)
			}
			run := func(a provisioning.BulkAction, names ...string) provisioning.Job {
				t.Helper()
				var ids []string
				for _, n := range names {
					ids = append(ids, cmp.Or(id[n], n))
				}
				j, err := svc.CreateBulkJob(ctx, tenant, realm, a, ids)
				if err != nil {
					t.Fatal(err)
				}
				return runJob(t, svc, tenant, realm, j)
			}
			status := func(name string) string {
				t.Helper()
				i, err := dir.GetIdentity(ctx, tenant, realm, id[name])
				if err != nil {
					return "gone"
				}
				return i.Status
			}

			j := run(provisioning.BulkAction{Action: provisioning.ActionSuspend}, "ada", "bea", "fay", "no-such-id")
			if j.State != provisioning.Succeeded || j.RowsTotal != 4 || j.RowsDone != 4 || j.Updated != 2 || j.Unchanged != 1 || j.Failed != 1 {
				t.Errorf("suspend: %+v", j)
			}
			if status("ada") != suspended || status("bea") != suspended || status("cy") != directory.StatusActive {
				t.Errorf("after suspend: ada %s, bea %s, cy %s", status("ada"), status("bea"), status("cy"))
			}
			fs, err := svc.Failures(ctx, tenant, realm, j.ID, 0, 10)
			if err != nil || len(fs) != 1 || string(fs[0].Record) != "no-such-id" || fs[0].Error == "" {
				t.Errorf("failures of suspend: %+v %v", fs, err)
			}

			j = run(provisioning.BulkAction{Action: provisioning.ActionActivate}, "ada", "cy")
			if j.Updated != 1 || j.Unchanged != 1 || status("ada") != directory.StatusActive {
				t.Errorf("activate: %+v, ada %s", j, status("ada"))
			}

			j = run(provisioning.BulkAction{Action: provisioning.ActionAddToGroup, GroupID: g.ID}, "ada", "bea", "cy")
			if j.Updated != 2 || j.Unchanged != 1 || j.Failed != 0 {
				t.Errorf("add to group: %+v", j)
			}
			members, err := dir.AllGroupMembers(ctx, tenant, realm, g.ID)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range members {
				names = append(names, m.Traits.Username)
			}
			slices.Sort(names)
			if !slices.Equal(names, []string{"ada", "bea", "cy"}) {
				t.Errorf("members after add: %q", names)
			}

			j = run(provisioning.BulkAction{Action: provisioning.ActionDelete}, "dee", "eve")
			if j.Updated != 2 || status("dee") != "gone" || status("eve") != "gone" || status("cy") != directory.StatusActive {
				t.Errorf("delete: %+v, dee %s, eve %s", j, status("dee"), status("eve"))
			}

			for _, c := range []struct {
				what string
				a    provisioning.BulkAction
				ids  []string
				code string
			}{
				{"no ids", provisioning.BulkAction{Action: provisioning.ActionSuspend}, nil, latchkey.CodeBadRequest},
				{"unknown action", provisioning.BulkAction{Action: "explode"}, []string{id["ada"]}, latchkey.CodeBadRequest},
				{"unknown group", provisioning.BulkAction{Action: provisioning.ActionAddToGroup, GroupID: "nope"}, []string{id["ada"]}, latchkey.CodeNotFound},
				{"no mailer", provisioning.BulkAction{Action: provisioning.ActionSendBindingEmail, ConfigID: "c"}, []string{id["ada"]}, latchkey.CodeUnprocessable},
			} {
				if _, err := svc.CreateBulkJob(ctx, tenant, realm, c.a, c.ids); latchkey.ErrorCode(err) != c.code {
					t.Errorf("%s: %v, want code %s", c.what, err, c.code)
				}
			}
			// One job at a time per realm, bulk or import.
			if _, err := svc.CreateBulkJob(ctx, tenant, realm, provisioning.BulkAction{Action: provisioning.ActionSuspend}, []string{id["ada"]}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.CreateBulkJob(ctx, tenant, realm, provisioning.BulkAction{Action: provisioning.ActionActivate}, []string{id["ada"]}); latchkey.ErrorCode(err) != latchkey.CodeConflict {
				t.Errorf("a second job: %v, want a conflict", err)
			}
		})
	}
}

// runJob runs a queued job to its end with a worker of its own.
func runJob(t testing.TB, svc *provisioning.Service, tenant, realm string, j provisioning.Job) provisioning.Job {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w := &provisioning.Worker{Service: svc, Logger: slog.New(slog.DiscardHandler), Owner: "test", PollInterval: 10 * time.Millisecond}
	go w.Run(ctx)
	var err error
	for !j.Done() {
		time.Sleep(10 * time.Millisecond) // a job's end is no event a test can wait on
		if j, err = svc.GetJob(ctx, tenant, realm, j.ID); err != nil {
			t.Fatal(err)
		}
	}
	return j
}
