package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/store"
)

func newJob(i directory.Identity, state string, expires time.Time) passkey.BindingJob {
	return passkey.BindingJob{ID: latchkey.NewID(), RealmID: i.RealmID, TenantID: i.TenantID, IdentityID: i.ID,
		DeliveryMethod: passkey.Return, State: state, AuthenticatorConfigID: latchkey.NewUUID(),
		TokenHash: "ab", ExpireTime: expires, CreateTime: now, UpdateTime: now}
}

func newCredential(i directory.Identity, thumbprint string) passkey.Credential {
	return passkey.Credential{ID: latchkey.NewID(), IdentityID: i.ID, RealmID: i.RealmID, TenantID: i.TenantID,
		State: passkey.Active, CSRType: passkey.CSRJWT, JWKJSON: "{}", JWKThumbprint: thumbprint, CreateTime: now, UpdateTime: now}
}

func enrollment(t *testing.T, s store.Store, i directory.Identity) string {
	t.Helper()
	got, err := s.GetIdentity(t.Context(), i.RealmID, i.ID)
	must(t, err)
	return got.EnrollmentStatus
}

// testConfigLookups: the locking reads of an authenticator config, which
// a delete and the rows that reference it use, find what the plain read
// finds, inside a transaction as outside, and only in the config's realm.
func testConfigLookups(t *testing.T, s store.Store) {
	ctx := t.Context()
	r, other := newRealm(t, s), newRealm(t, s)
	c := passkey.AuthenticatorConfig{ID: latchkey.NewUUID(), RealmID: r.ID, TenantID: r.TenantID, DisplayName: "Hosted",
		Config: passkey.Config{Type: passkey.HostedWeb}, CreateTime: now, UpdateTime: now}
	must(t, s.CreateAuthenticatorConfig(ctx, c))
	lookups := func(tx passkey.Tx) map[string]func(ctx context.Context, realmID, id string) (passkey.AuthenticatorConfig, error) {
		return map[string]func(ctx context.Context, realmID, id string) (passkey.AuthenticatorConfig, error){
			"get": tx.GetAuthenticatorConfig, "reference": tx.ReferenceAuthenticatorConfig, "lock": tx.LockAuthenticatorConfig,
		}
	}
	check := func(where string, tx passkey.Tx) {
		for name, lookup := range lookups(tx) {
			got, err := lookup(ctx, r.ID, c.ID)
			must(t, err)
			equal(t, name+" "+where, got, c)
			_, err = lookup(ctx, other.ID, c.ID)
			wantErr(t, name+" "+where+" in another realm", err, latchkey.ErrNotFound)
			_, err = lookup(ctx, r.ID, latchkey.NewUUID())
			wantErr(t, name+" "+where+" of a missing config", err, latchkey.ErrNotFound)
		}
	}
	check("outside a transaction", s.Passkey())
	must(t, s.Passkey().Update(ctx, func(tx passkey.Tx) error {
		check("in a transaction", tx)
		return nil
	}))
}

// testBindingJobs: jobs of one identity or of all, the compare-and-set of
// their states, expiry, and the enrollment status they imply.
func testBindingJobs(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	ada, bob := addIdentity(t, s, r, "ada"), addIdentity(t, s, r, "bob")
	later := now.Add(time.Hour)
	a := newJob(ada, passkey.LinkSent, later)
	b := newJob(bob, passkey.LinkSent, later)
	must(t, s.CreateBindingJob(ctx, a))
	must(t, s.CreateBindingJob(ctx, b))

	got, err := s.GetBindingJob(ctx, r.ID, passkey.AnyIdentity, a.ID)
	must(t, err)
	equal(t, "job", got, a)
	_, err = s.GetBindingJob(ctx, r.ID, bob.ID, a.ID)
	wantErr(t, "job of another identity", err, latchkey.ErrNotFound)
	list, total, err := s.ListBindingJobs(ctx, r.ID, passkey.AnyIdentity, latchkey.ListOptions{Limit: 10})
	must(t, err)
	wantTotal(t, "all jobs", total, 2)
	sameIDs(t, "all jobs", ids(list, func(j passkey.BindingJob) string { return j.ID }), sortedIDs(a.ID, b.ID))

	must(t, s.RefreshEnrollment(ctx, ada.ID, now))
	equal(t, "enrollment with an open job", enrollment(t, s, ada), directory.Pending)
	must(t, s.RefreshEnrollment(ctx, ada.ID, later))
	equal(t, "enrollment once the job expired", enrollment(t, s, ada), directory.Unenrolled)

	// Of two changes from the same state only the first applies.
	must(t, s.SetBindingJobState(ctx, a.ID, passkey.OpenStates, passkey.Revoked, now))
	wantErr(t, "second change", s.CompleteBindingJob(ctx, a.ID, passkey.OpenStates, "c1", now), latchkey.ErrNotFound)
	// A job past its expiry cannot complete, and the sweep expires it.
	wantErr(t, "complete after expiry", s.CompleteBindingJob(ctx, b.ID, passkey.OpenStates, "c2", later), latchkey.ErrNotFound)
	expired, err := s.ExpireBindingJobs(ctx, later)
	must(t, err)
	sameIDs(t, "expired jobs' identities", expired, []string{bob.ID})
	got, _ = s.GetBindingJob(ctx, r.ID, bob.ID, b.ID)
	equal(t, "expired state", got.State, passkey.Expired)

	failed := newJob(bob, passkey.FailedToSend, later)
	must(t, s.CreateBindingJob(ctx, failed))
	must(t, s.RefreshEnrollment(ctx, bob.ID, now))
	equal(t, "enrollment with a failed e-mail", enrollment(t, s, bob), directory.InviteFailed)
}

func sortedIDs(a, b string) []string {
	if a < b {
		return []string{a, b}
	}
	return []string{b, a}
}

// testCredentials: a key is bound once per realm; revocation shows in the
// enrollment status.
func testCredentials(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	ada := addIdentity(t, s, r, "ada")
	c := newCredential(ada, "tp1")
	c.CSRType = passkey.CSRWebAuthn
	c.WebAuthn = &passkey.WebAuthnKey{CredentialID: []byte{1, 2}, PublicKey: []byte{3}, SignCount: 7, Transports: []string{"internal"}}
	must(t, s.CreateCredential(ctx, c))
	wantErr(t, "same key again", s.CreateCredential(ctx, newCredential(ada, "tp1")), latchkey.ErrDuplicate)
	got, err := s.GetCredential(ctx, r.ID, ada.ID, c.ID)
	must(t, err)
	equal(t, "credential", got, c)
	wantAda, err := s.GetIdentity(ctx, r.ID, ada.ID)
	must(t, err)
	got, signer, err := s.GetSignerByWebAuthnID(ctx, r.ID, []byte{1, 2})
	must(t, err)
	equal(t, "credential by its WebAuthn id", got, c)
	equal(t, "identity of the credential by its WebAuthn id", signer, wantAda)
	got, signer, err = s.GetSignerByThumbprint(ctx, r.ID, "tp1")
	must(t, err)
	equal(t, "credential by its thumbprint", got, c)
	equal(t, "identity of the credential by its thumbprint", signer, wantAda)
	other := newRealm(t, s)
	_, _, err = s.GetSignerByThumbprint(ctx, other.ID, "tp1")
	wantErr(t, "thumbprint in another realm", err, latchkey.ErrNotFound)
	_, _, err = s.GetSignerByWebAuthnID(ctx, r.ID, []byte{9})
	wantErr(t, "unknown WebAuthn id", err, latchkey.ErrNotFound)
	must(t, s.RefreshEnrollment(ctx, ada.ID, now))
	equal(t, "enrollment with a passkey", enrollment(t, s, ada), directory.Enrolled)

	// A sign-in records its use; a rename keeps it.
	c.WebAuthn.SignCount, c.LastUsedTime, c.LastUsedUserAgent = 8, now.Add(time.Minute), "Firefox"
	must(t, s.RecordCredentialUse(ctx, c))
	c.DisplayName = "Ada's laptop"
	must(t, s.UpdateCredential(ctx, c))
	got, err = s.GetCredential(ctx, r.ID, ada.ID, c.ID)
	must(t, err)
	equal(t, "credential after a sign-in and a rename", got, c)

	c.State, c.UpdateTime = passkey.RevokedState, now.Add(time.Second)
	must(t, s.UpdateCredential(ctx, c))
	// A sign-in that began before the revocation does not bring it back.
	used := c
	used.State, used.LastUsedTime = passkey.Active, now.Add(2*time.Minute)
	wantErr(t, "use of a revoked credential", s.RecordCredentialUse(ctx, used), latchkey.ErrNotFound)
	list, total, err := s.ListCredentials(ctx, r.ID, passkey.AnyIdentity, latchkey.ListOptions{Limit: 10})
	must(t, err)
	wantTotal(t, "credentials", total, 1)
	equal(t, "revoked", list[0].State, passkey.RevokedState)
	equal(t, "revoked credential", list[0], c)
	must(t, s.RefreshEnrollment(ctx, ada.ID, now))
	equal(t, "enrollment after revocation", enrollment(t, s, ada), directory.Unenrolled)

	// A WebAuthn id is one passkey of the realm (imports bring their own);
	// JWT credentials, which have none, do not collide.
	sameID := newCredential(ada, "tp2")
	sameID.CSRType, sameID.WebAuthn = passkey.CSRWebAuthn, &passkey.WebAuthnKey{CredentialID: []byte{1, 2}, PublicKey: []byte{4}}
	wantErr(t, "same WebAuthn id with another key", s.CreateCredential(ctx, sameID), latchkey.ErrDuplicate)
	must(t, s.CreateCredential(ctx, newCredential(ada, "jwt1")))
	must(t, s.CreateCredential(ctx, newCredential(ada, "jwt2")))
	inOther := newCredential(addIdentity(t, s, newRealm(t, s), "bo"), "tp1")
	inOther.CSRType, inOther.WebAuthn = passkey.CSRWebAuthn, &passkey.WebAuthnKey{CredentialID: []byte{1, 2}, PublicKey: []byte{3}}
	must(t, s.CreateCredential(ctx, inOther))
}

// testBatchQueueCount: of two transactions that each count the queued
// identities and then add a batch, the second counts the first's batch.
func testBatchQueueCount(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	batch := func() passkey.Batch {
		return passkey.Batch{ID: latchkey.NewID(), TenantID: r.TenantID, RealmID: r.ID, IdentityIDs: []string{"a", "b"},
			State: passkey.BatchRunning, StateCommentary: passkey.BatchCommentary{Errors: map[string]passkey.BatchError{}},
			JobTemplate: passkey.JobTemplate{AuthenticatorConfigID: "x", ExpireTime: now}, CreateTime: now, UpdateTime: now}
	}
	counted := make(chan struct{})
	seen := make(chan int, 1)
	go func() {
		<-counted
		seen <- func() (n int) {
			must(t, s.Passkey().Update(ctx, func(tx passkey.Tx) (err error) {
				n, err = tx.QueuedBatchIdentities(ctx, r.ID)
				return err
			}))
			return n
		}()
	}()
	must(t, s.Passkey().Update(ctx, func(tx passkey.Tx) error {
		n, err := tx.QueuedBatchIdentities(ctx, r.ID)
		equal(t, "queued at first", n, 0)
		close(counted)
		time.Sleep(200 * time.Millisecond) // the other transaction counts now
		if err != nil {
			return err
		}
		return tx.CreateBatch(ctx, batch())
	}))
	equal(t, "queued as the second transaction counted", <-seen, 2)
}

// testConfigInUseByBatch: a config is in use while a running batch's
// template names it, and free once the batch has finished.
func testConfigInUseByBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	c := passkey.AuthenticatorConfig{ID: latchkey.NewUUID(), RealmID: r.ID, TenantID: r.TenantID, DisplayName: "Hosted",
		Config: passkey.Config{Type: passkey.HostedWeb}, CreateTime: now, UpdateTime: now}
	must(t, s.CreateAuthenticatorConfig(ctx, c))
	inUse := func() bool {
		used, err := s.AuthenticatorConfigInUse(ctx, c.ID)
		must(t, err)
		return used
	}
	equal(t, "in use before the batch", inUse(), false)
	b := passkey.Batch{ID: latchkey.NewID(), TenantID: r.TenantID, RealmID: r.ID, IdentityIDs: []string{"a"},
		State: passkey.BatchRunning, StateCommentary: passkey.BatchCommentary{Errors: map[string]passkey.BatchError{}},
		JobTemplate: passkey.JobTemplate{AuthenticatorConfigID: c.ID, ExpireTime: now}, CreateTime: now, UpdateTime: now}
	must(t, s.CreateBatch(ctx, b))
	equal(t, "in use by the running batch", inUse(), true)
	claimed, err := s.ClaimBatch(ctx, "node", now, time.Minute)
	must(t, err)
	claimed.State, claimed.Done = passkey.BatchSuccess, 1
	must(t, s.SaveBatch(ctx, claimed, "node", now))
	equal(t, "in use after the batch finished", inUse(), false)
}

// testBatchLeases: one node at a time holds a batch; a lease that ran out
// passes to another, and the old holder can no longer save.
func testBatchLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	b := passkey.Batch{ID: latchkey.NewID(), TenantID: r.TenantID, RealmID: r.ID, IdentityIDs: []string{"a", "b", "c"},
		State: passkey.BatchRunning, StateCommentary: passkey.BatchCommentary{Errors: map[string]passkey.BatchError{}},
		JobTemplate: passkey.JobTemplate{AuthenticatorConfigID: "x", ExpireTime: now}, CreateTime: now, UpdateTime: now}
	must(t, s.CreateBatch(ctx, b))
	queued, err := s.QueuedBatchIdentities(ctx, r.ID)
	must(t, err)
	equal(t, "queued", queued, 3)

	got, err := s.ClaimBatch(ctx, "node-a", now, time.Minute)
	must(t, err)
	equal(t, "claimed", got, b)
	_, err = s.ClaimBatch(ctx, "node-b", now.Add(time.Second), time.Minute)
	wantErr(t, "claim of a held batch", err, latchkey.ErrNotFound)
	wantErr(t, "save by a non-holder", s.SaveBatch(ctx, b, "node-b", now.Add(time.Minute)), latchkey.ErrNotFound)
	b.Done = 1
	b.StateCommentary.Errors["a"] = passkey.BatchError{LastError: "identity not found", FailedPermanently: true}
	must(t, s.SaveBatch(ctx, b, "node-a", now.Add(time.Minute)))

	got, err = s.ClaimBatch(ctx, "node-b", now.Add(2*time.Minute), time.Minute)
	must(t, err)
	equal(t, "taken over with its progress", got, b)
	wantErr(t, "save by the old holder", s.SaveBatch(ctx, b, "node-a", now.Add(3*time.Minute)), latchkey.ErrNotFound)
	queued, _ = s.QueuedBatchIdentities(ctx, r.ID)
	equal(t, "queued after one", queued, 2)

	b.Done, b.State = 3, passkey.BatchPartialSuccess
	must(t, s.SaveBatch(ctx, b, "node-b", now.Add(3*time.Minute)))
	_, err = s.ClaimBatch(ctx, "node-c", now.Add(time.Hour), time.Minute)
	wantErr(t, "claim of a finished batch", err, latchkey.ErrNotFound)
	queued, _ = s.QueuedBatchIdentities(ctx, r.ID)
	equal(t, "queued when finished", queued, 0)
}
