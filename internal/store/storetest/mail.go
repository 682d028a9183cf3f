package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/store"
)

func newTheme(r directory.Realm) mail.Theme {
	return mail.Theme{ID: latchkey.NewUUID(), TenantID: r.TenantID, RealmID: r.ID, CreateTime: now, UpdateTime: now,
		EmailRealmName: "Acme", LogoURLLight: "https://acme.example/light.png", LogoURLDark: "https://acme.example/dark.png",
		SupportURL: "https://acme.example/help", ButtonColor: "#112233", ButtonTextColor: "#FFFFFF"}
}

func testThemes(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	other := addRealm(t, s, r.TenantID, "Other")
	v := newTheme(r)
	must(t, s.CreateTheme(ctx, v))

	got, err := s.GetTheme(ctx, r.TenantID, r.ID, v.ID)
	must(t, err)
	equal(t, "theme", got, v)
	got, err = s.GetRealmTheme(ctx, r.TenantID, r.ID)
	must(t, err)
	equal(t, "the realm's theme", got, v)

	second := newTheme(r)
	wantErr(t, "a second theme in the realm", s.CreateTheme(ctx, second), latchkey.ErrDuplicate)
	gone := newTheme(directory.Realm{ID: latchkey.NewID(), TenantID: r.TenantID})
	wantErr(t, "a theme of a missing realm", s.CreateTheme(ctx, gone), latchkey.ErrNoParent)

	_, err = s.GetTheme(ctx, r.TenantID, other.ID, v.ID)
	wantErr(t, "the theme through another realm", err, latchkey.ErrNotFound)
	_, err = s.GetTheme(ctx, latchkey.NewTenantID(), r.ID, v.ID)
	wantErr(t, "the theme through another tenant", err, latchkey.ErrNotFound)
	_, err = s.GetRealmTheme(ctx, other.TenantID, other.ID)
	wantErr(t, "a realm without a theme", err, latchkey.ErrNotFound)

	v.EmailRealmName, v.SupportURL, v.ButtonColor = "Acme Corp", "", "#445566"
	v.UpdateTime = now.Add(time.Minute)
	must(t, s.UpdateTheme(ctx, v))
	got, err = s.GetTheme(ctx, r.TenantID, r.ID, v.ID)
	must(t, err)
	equal(t, "updated theme", got, v)
	missing := newTheme(r)
	wantErr(t, "update a missing theme", s.UpdateTheme(ctx, missing), latchkey.ErrNotFound)

	// A theme is part of its realm's configuration: it does not keep the realm from going.
	must(t, s.DeleteRealm(ctx, r.TenantID, r.ID))
	_, err = s.GetTheme(ctx, r.TenantID, r.ID, v.ID)
	wantErr(t, "the theme of a deleted realm", err, latchkey.ErrNotFound)
}

func newMail(r directory.Realm, to string, due time.Time) mail.Message {
	m := mail.NewMessageAt(now, r.TenantID, r.ID, to, "Subject "+to, "text "+to, "<p>html "+to+"</p>", "test:"+to)
	m.NextAttemptTime, m.CreateTime, m.UpdateTime = due, now, now
	return m
}

func mailID(m mail.Message) string { return m.ID }

func claim(t *testing.T, s store.Store, owner string, at time.Time, limit int) []mail.Message {
	t.Helper()
	got, err := s.Mail().ClaimMail(t.Context(), owner, at, 5*time.Minute, limit)
	must(t, err)
	return got
}

func getMail(t *testing.T, s store.Store, id string) mail.Message {
	t.Helper()
	m, err := s.Mail().GetMail(t.Context(), id)
	must(t, err)
	return m
}

func testMailOutbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	a, b := newMail(r, "a@example.com", now), newMail(r, "b@example.com", now.Add(-time.Second))
	later := newMail(r, "later@example.com", now.Add(time.Hour))
	for _, m := range []mail.Message{a, b, later} {
		must(t, s.EnqueueMail(ctx, m))
	}
	stored := getMail(t, s, a.ID)
	equal(t, "stored message", stored, a)
	_, err := s.Mail().GetMail(ctx, latchkey.NewID())
	wantErr(t, "a missing message", err, latchkey.ErrNotFound)

	// Due messages come first by due time; the lease counts an attempt.
	got := claim(t, s, "one", now, 10)
	sameIDs(t, "claimed", ids(got, mailID), []string{b.ID, a.ID})
	if got[1].Attempts != 1 || got[1].State != mail.StatePending || got[1].Text != a.Text || got[1].HTML != a.HTML {
		t.Errorf("claimed %+v", got[1])
	}
	sameIDs(t, "claimed while leased", ids(claim(t, s, "two", now.Add(time.Minute), 10), mailID), nil)

	// After the lease runs out another owner takes them; the first one's
	// marks no longer apply.
	expired := now.Add(6 * time.Minute)
	got = claim(t, s, "two", expired, 1)
	sameIDs(t, "claimed after the lease", ids(got, mailID), []string{b.ID})
	if got[0].Attempts != 2 {
		t.Errorf("attempts %d, want 2", got[0].Attempts)
	}
	wantErr(t, "mark sent by the old owner", s.Mail().MarkMailSent(ctx, b.ID, "one", expired), latchkey.ErrNotFound)
	must(t, s.Mail().MarkMailSent(ctx, b.ID, "two", expired))
	if m := getMail(t, s, b.ID); m.State != mail.StateSent || !m.UpdateTime.Equal(expired) {
		t.Errorf("sent message %+v", m)
	}
	wantErr(t, "mark a sent message again", s.Mail().MarkMailSent(ctx, b.ID, "two", expired), latchkey.ErrNotFound)

	// A retry is due again at its next time, with its error.
	got = claim(t, s, "two", expired, 10)
	sameIDs(t, "claimed the rest", ids(got, mailID), []string{a.ID})
	next := expired.Add(10 * time.Minute)
	must(t, s.Mail().MarkMailRetry(ctx, a.ID, "two", expired, next, "421 try later"))
	sameIDs(t, "claimed before the retry is due", ids(claim(t, s, "two", next.Add(-time.Second), 10), mailID), nil)
	got = claim(t, s, "three", next, 10)
	sameIDs(t, "claimed when the retry is due", ids(got, mailID), []string{a.ID})
	if got[0].LastError != "421 try later" || got[0].Attempts != 3 || !got[0].NextAttemptTime.Equal(next) {
		t.Errorf("retried message %+v", got[0])
	}

	// A failed message is never claimed again.
	must(t, s.Mail().MarkMailFailed(ctx, a.ID, "three", next, "550 no such user"))
	if m := getMail(t, s, a.ID); m.State != mail.StateFailed || m.LastError != "550 no such user" {
		t.Errorf("failed message %+v", m)
	}
	sameIDs(t, "claimed at the end", ids(claim(t, s, "three", later.NextAttemptTime.Add(time.Hour), 10), mailID), []string{later.ID})

	// A message enqueued in a transaction that rolls back does not exist.
	rolledBack := newMail(r, "rolled.back@example.com", now)
	boom := errors.New("boom")
	err = s.Mail().Update(ctx, func(tx mail.Tx) error {
		must(t, tx.EnqueueMail(ctx, rolledBack))
		return boom
	})
	wantErr(t, "the rolled-back transaction", err, boom)
	_, err = s.Mail().GetMail(ctx, rolledBack.ID)
	wantErr(t, "a message of a rolled-back transaction", err, latchkey.ErrNotFound)
}

// testMailClaimRace has claimers race for one outbox: each message is
// claimed by exactly one of them.
func testMailClaimRace(t *testing.T, s store.Store) {
	r := newRealm(t, s)
	var want []string
	for i := range 60 {
		m := newMail(r, latchkey.NewID()+"@example.com", now.Add(time.Duration(i)*time.Millisecond))
		must(t, s.EnqueueMail(t.Context(), m))
		want = append(want, m.ID)
	}
	claimedOnce(t, "claimed messages", want, func(owner string) ([]string, error) {
		got, err := s.Mail().ClaimMail(t.Context(), owner, now.Add(time.Second), time.Minute, 4)
		return ids(got, mailID), err
	})
}
