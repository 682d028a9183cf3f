package mail_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

var quiet = slog.New(slog.DiscardHandler)

// addRealm adds a tenant with a realm named "Acme".
func addRealm(t *testing.T, s *sqlstore.Store) directory.Realm {
	t.Helper()
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tn := directory.Tenant{ID: latchkey.NewTenantID(), DisplayName: "T", CreateTime: now, UpdateTime: now}
	r := directory.Realm{ID: latchkey.NewID(), TenantID: tn.ID, DisplayName: "Acme",
		Classification: directory.SecureWorkforce, CreateTime: now, UpdateTime: now}
	must(t, s.CreateTenant(ctx, tn))
	must(t, s.CreateRealm(ctx, r))
	return r
}

// enqueue enqueues a binding e-mail to each recipient, in one transaction.
func enqueue(t *testing.T, s *sqlstore.Store, r directory.Realm, to ...string) []mail.Message {
	t.Helper()
	var out []mail.Message
	must(t, s.Mail().Update(t.Context(), func(tx mail.Tx) error {
		for _, addr := range to {
			job := latchkey.NewID()
			m, err := mail.EnqueueBindingEmail(t.Context(), tx, time.Now(), r.TenantID, r.ID, addr, "credential_binding_job:"+job,
				mail.BindingEmail{DisplayName: "User " + addr, Username: addr, Link: link + "&job=" + job, ExpireTime: time.Now().Add(time.Hour)})
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	}))
	return out
}

func smtpSender(t *testing.T, c *testenv.SMTPCapture) mail.Sender {
	t.Helper()
	s, err := mail.NewSMTPSender(c.URL, "Latchkey <no-reply@latchkey.test>")
	must(t, err)
	return s
}

// run runs w until the test ends.
func run(t *testing.T, w *mail.Worker) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitState waits for a message to reach state and returns it.
func waitState(t *testing.T, s mail.Store, id, state string) mail.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := s.GetMail(t.Context(), id)
		must(t, err)
		if m.State == state {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s is %s after 10 s (attempts %d, last error %q), want %s", id, m.State, m.Attempts, m.LastError, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWorkerDelivers(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := eng.Open(t)
			r := addRealm(t, s)
			capture := testenv.StartSMTP(t)
			w := &mail.Worker{Store: s.Mail(), Sender: smtpSender(t, capture), Logger: quiet, Owner: "node-a", PollInterval: time.Hour}
			run(t, w)
			m := enqueue(t, s, r, "alice@example.com")[0]
			w.Wake() // PollInterval is an hour: only Wake can deliver it in time

			got := capture.Wait(t, 1)[0]
			if got.From != "no-reply@latchkey.test" || len(got.To) != 1 || got.To[0] != "alice@example.com" {
				t.Errorf("envelope from %q to %q", got.From, got.To)
			}
			if got.Subject != "Create your passkey for Acme" || got.Subject != m.Subject {
				t.Errorf("subject %q", got.Subject)
			}
			if got.Text != m.Text || got.HTML != m.HTML {
				t.Errorf("bodies differ from the outbox's:\ntext %q\nwant %q\nhtml %q\nwant %q", got.Text, m.Text, got.HTML, m.HTML)
			}
			wantLink := link + "&job=" + strings.TrimPrefix(m.Ref, "credential_binding_job:")
			if !strings.Contains(got.Text, wantLink) || !strings.Contains(got.HTML, strings.ReplaceAll(wantLink, "&", "&amp;")) {
				t.Errorf("the link %s is missing:\n%s\n%s", wantLink, got.Text, got.HTML)
			}
			if id := got.Header.Get("Message-Id"); id != "<"+m.ID+"@latchkey.test>" {
				t.Errorf("Message-ID %q", id)
			}
			sent := waitState(t, s.Mail(), m.ID, mail.StateSent)
			if sent.Attempts != 1 || sent.LastError != "" {
				t.Errorf("sent message %+v", sent)
			}
		})
	}
}

// failedCalls records the calls of Worker.OnFailed.
type failedCalls struct {
	mu    sync.Mutex
	calls []mail.Message
}

func (f *failedCalls) record(_ context.Context, m mail.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, m)
}

func (f *failedCalls) get() []mail.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mail.Message(nil), f.calls...)
}

func refuseWith(code int, upTo int) func(n int) error {
	return func(n int) error {
		if n <= upTo {
			return &smtp.SMTPError{Code: code, Message: "not now"}
		}
		return nil
	}
}

func TestWorkerRetries(t *testing.T) {
	noWait := func(int) time.Duration { return 0 }
	t.Run("accepted on the third attempt", func(t *testing.T) {
		s := testenv.OpenSQLite(t)
		r := addRealm(t, s)
		capture := testenv.StartSMTPWith(t, testenv.SMTPConfig{Refuse: refuseWith(451, 2)})
		var failed failedCalls
		run(t, &mail.Worker{Store: s.Mail(), Sender: smtpSender(t, capture), Logger: quiet, Owner: "a",
			MaxAttempts: 5, Backoff: noWait, PollInterval: 10 * time.Millisecond, OnFailed: failed.record})
		m := enqueue(t, s, r, "bob@example.com")[0]
		capture.Wait(t, 1)
		sent := waitState(t, s.Mail(), m.ID, mail.StateSent)
		if sent.Attempts != 3 || capture.Attempts() != 3 || len(failed.get()) != 0 {
			t.Errorf("attempts %d (server saw %d), OnFailed calls %d; want 3, 3, 0", sent.Attempts, capture.Attempts(), len(failed.get()))
		}
	})
	t.Run("failed after the last attempt", func(t *testing.T) {
		s := testenv.OpenSQLite(t)
		r := addRealm(t, s)
		capture := testenv.StartSMTPWith(t, testenv.SMTPConfig{Refuse: refuseWith(451, 1000)})
		var failed failedCalls
		var backoffs []int
		run(t, &mail.Worker{Store: s.Mail(), Sender: smtpSender(t, capture), Logger: quiet, Owner: "a",
			MaxAttempts: 3, PollInterval: 10 * time.Millisecond, OnFailed: failed.record,
			Backoff: func(attempt int) time.Duration { backoffs = append(backoffs, attempt); return 0 }})
		m := enqueue(t, s, r, "carol@example.com")[0]
		got := waitState(t, s.Mail(), m.ID, mail.StateFailed)
		if got.Attempts != 3 || capture.Attempts() != 3 || !strings.Contains(got.LastError, "451") {
			t.Errorf("failed message %+v, server saw %d attempts", got, capture.Attempts())
		}
		if len(backoffs) != 2 || backoffs[0] != 1 || backoffs[1] != 2 {
			t.Errorf("backoff asked for attempts %v, want [1 2]", backoffs)
		}
		time.Sleep(100 * time.Millisecond) // more polls must not call OnFailed again
		calls := failed.get()
		if len(calls) != 1 || calls[0].ID != m.ID || calls[0].Ref != m.Ref || calls[0].State != mail.StateFailed {
			t.Errorf("OnFailed calls %+v, want one for %s", calls, m.ID)
		}
	})
	t.Run("a permanent refusal fails at once", func(t *testing.T) {
		s := testenv.OpenSQLite(t)
		r := addRealm(t, s)
		capture := testenv.StartSMTPWith(t, testenv.SMTPConfig{Refuse: refuseWith(550, 1000)})
		var failed failedCalls
		run(t, &mail.Worker{Store: s.Mail(), Sender: smtpSender(t, capture), Logger: quiet, Owner: "a",
			Backoff: noWait, PollInterval: 10 * time.Millisecond, OnFailed: failed.record})
		m := enqueue(t, s, r, "dave@example.com")[0]
		got := waitState(t, s.Mail(), m.ID, mail.StateFailed)
		if got.Attempts != 1 || capture.Attempts() != 1 || len(failed.get()) != 1 {
			t.Errorf("attempts %d, server saw %d, OnFailed calls %d; want 1 each", got.Attempts, capture.Attempts(), len(failed.get()))
		}
	})
}

func TestSMTPTLSAndAuth(t *testing.T) {
	for _, mode := range []string{"starttls", "implicit"} {
		t.Run(mode, func(t *testing.T) {
			capture := testenv.StartSMTPWith(t, testenv.SMTPConfig{TLS: mode, Username: "mailer", Password: "s3cret"})
			m := mail.NewMessageAt(time.Now().UTC().Truncate(time.Microsecond), "t", "r", "erin@example.com", "Hi", "text body", "<p>html body</p>", "test:1")
			must(t, smtpSender(t, capture).Send(t.Context(), m))
			got := capture.Wait(t, 1)[0]
			if got.Subject != "Hi" || got.Text != "text body" || got.HTML != "<p>html body</p>" {
				t.Errorf("received %+v", got)
			}

			wrong := strings.Replace(capture.URL, "s3cret", "wrong", 1)
			s, err := mail.NewSMTPSender(wrong, "no-reply@latchkey.test")
			must(t, err)
			if err := s.Send(t.Context(), m); err == nil || mail.IsPermanent(err) {
				t.Errorf("wrong password: %v, want a (retryable) error", err)
			}
			verified := strings.Replace(capture.URL, "insecure_skip_verify=1", "insecure_skip_verify=0", 1)
			s, err = mail.NewSMTPSender(verified, "no-reply@latchkey.test")
			must(t, err)
			if err := s.Send(t.Context(), m); err == nil {
				t.Error("a self-signed certificate was accepted without insecure_skip_verify")
			}
		})
	}
}

func TestNewSMTPSenderRejects(t *testing.T) {
	for _, u := range []string{
		"http://mail.example.com", "smtp://", "smtp://mail.example.com?starttls=maybe",
		"smtps://mail.example.com?starttls=required", "smtp://mail.example.com?insecure_skip_verify=yes",
		"smtp://mail.example.com?tls=1", "smtp://mail.example.com:abc",
	} {
		if _, err := mail.NewSMTPSender(u, "no-reply@example.com"); err == nil {
			t.Errorf("%s: accepted", u)
		}
	}
	if _, err := mail.NewSMTPSender("smtp://mail.example.com", "not an address"); err == nil {
		t.Error("a bad From address was accepted")
	}
}

func TestLogSender(t *testing.T) {
	var out strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &out}, nil))
	s := testenv.OpenSQLite(t)
	r := addRealm(t, s)
	run(t, &mail.Worker{Store: s.Mail(), Sender: mail.NewLogSender(logger), Logger: quiet, Owner: "a", PollInterval: 10 * time.Millisecond})
	m := enqueue(t, s, r, "frank@example.com")[0]
	waitState(t, s.Mail(), m.ID, mail.StateSent)
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"level=INFO", "to=frank@example.com", strings.TrimPrefix(m.Ref, "credential_binding_job:")} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, out.String())
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestRestart enqueues on one store and closes it before any delivery; a
// worker on a new store of the same database delivers the message once.
func TestRestart(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	first := openPostgres(t, dsn)
	must(t, first.Migrate(t.Context()))
	r := addRealm(t, first)
	m := enqueue(t, first, r, "grace@example.com")[0]
	must(t, first.Close())

	second := openPostgres(t, dsn)
	capture := testenv.StartSMTP(t)
	run(t, &mail.Worker{Store: second.Mail(), Sender: smtpSender(t, capture), Logger: quiet, Owner: "b", PollInterval: 10 * time.Millisecond})
	got := capture.Wait(t, 1)
	waitState(t, second.Mail(), m.ID, mail.StateSent)
	time.Sleep(100 * time.Millisecond) // more polls
	if got = capture.Messages(); len(got) != 1 || got[0].To[0] != "grace@example.com" {
		t.Errorf("received %d messages, want the one", len(got))
	}
}

// TestLeaseTakeover: a worker that dies while sending keeps its lease
// until it runs out, however often another worker looks; once the clock
// passes it, the other worker delivers the message.
func TestLeaseTakeover(t *testing.T) {
	s := testenv.OpenSQLite(t)
	r := addRealm(t, s)
	m := enqueue(t, s, r, "heidi@example.com")[0]
	clock := testenv.NewClock() // from after the message is due
	stuck := make(chan struct{})
	ctx, die := context.WithCancel(context.Background())
	dead := make(chan struct{})
	w1 := &mail.Worker{Store: s.Mail(), Logger: quiet, Owner: "dies", Clock: clock.Now,
		Sender: senderFunc(func(ctx context.Context, _ mail.Message) error { close(stuck); <-ctx.Done(); return ctx.Err() })}
	go func() { w1.Run(ctx); close(dead) }()
	<-stuck
	die()
	<-dead

	capture := testenv.StartSMTP(t)
	var claims atomic.Int32
	w2 := &mail.Worker{Store: claimCounter{s.Mail(), &claims}, Sender: smtpSender(t, capture), Logger: quiet, Owner: "takes over",
		PollInterval: time.Millisecond, Clock: clock.Now}
	run(t, w2)
	for claims.Load() < 5 { // the other worker looks, and looks again, within the lease
		time.Sleep(time.Millisecond)
	}
	if got, err := s.Mail().GetMail(t.Context(), m.ID); err != nil || got.State != mail.StatePending || got.Attempts != 1 {
		t.Fatalf("within the lease: %+v, %v; want pending after one attempt", got, err)
	}
	clock.Advance(5*time.Minute + time.Microsecond) // the default lease
	sent := waitState(t, s.Mail(), m.ID, mail.StateSent)
	if sent.Attempts != 2 || len(capture.Messages()) != 1 {
		t.Errorf("attempts %d, received %d; want 2 and 1", sent.Attempts, len(capture.Messages()))
	}
}

// TestSlowSendKeepsWithinLease: a send that would outlast its message's
// lease is cancelled before the lease runs out, so the worker that claims
// the message next is the only one to send it, and messages claimed after
// it are not held behind it: every message arrives exactly once.
func TestSlowSendKeepsWithinLease(t *testing.T) {
	s := testenv.OpenSQLite(t)
	r := addRealm(t, s)
	capture := testenv.StartSMTP(t)
	smtp := smtpSender(t, capture)
	var slowOnce sync.Once
	sending := make(chan struct{})
	slow := func(ctx context.Context, m mail.Message) error {
		wait := time.Duration(0)
		slowOnce.Do(func() { wait = 400 * time.Millisecond; close(sending) }) // longer than the lease
		select {
		case <-time.After(wait):
			return smtp.Send(ctx, m)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	worker := func(owner string, sender senderFunc) *mail.Worker {
		return &mail.Worker{Store: s.Mail(), Logger: quiet, Owner: owner, Lease: 300 * time.Millisecond, PollInterval: 10 * time.Millisecond,
			Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Sender: sender}
	}
	run(t, worker("slow", slow))
	want := enqueue(t, s, r, "ivan@example.com", "judy@example.com", "mallory@example.com")
	<-sending
	run(t, worker("quick", smtp.Send))
	for _, m := range want {
		waitState(t, s.Mail(), m.ID, mail.StateSent)
	}
	time.Sleep(500 * time.Millisecond) // time for a late second send to land
	got := map[string]int{}
	for _, m := range capture.Messages() {
		got[m.To[0]]++
	}
	if len(got) != len(want) || got["ivan@example.com"] != 1 || got["judy@example.com"] != 1 || got["mallory@example.com"] != 1 {
		t.Errorf("received %v, want each message once", got)
	}
}

// claimCounter counts the claims a worker makes.
type claimCounter struct {
	mail.Store
	n *atomic.Int32
}

func (c claimCounter) ClaimMail(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]mail.Message, error) {
	defer c.n.Add(1)
	return c.Store.ClaimMail(ctx, owner, now, lease, limit)
}

type senderFunc func(ctx context.Context, m mail.Message) error

func (f senderFunc) Send(ctx context.Context, m mail.Message) error { return f(ctx, m) }

// TestTwoNodes runs a worker on each of two stores (two nodes) on one
// PostgreSQL database: every message is sent exactly once.
func TestTwoNodes(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	a, b := openPostgres(t, dsn), openPostgres(t, dsn)
	must(t, a.Migrate(t.Context()))
	r := addRealm(t, a)
	capture := testenv.StartSMTP(t)
	var sentBy [2]atomic.Int32
	for i, s := range []*sqlstore.Store{a, b} {
		smtp := smtpSender(t, capture)
		run(t, &mail.Worker{Store: s.Mail(), Logger: quiet, Owner: []string{"node-a", "node-b"}[i], PollInterval: 5 * time.Millisecond,
			Sender: senderFunc(func(ctx context.Context, m mail.Message) error { sentBy[i].Add(1); return smtp.Send(ctx, m) })})
	}
	const n = 40
	var to []string
	for i := range n {
		to = append(to, "user"+string(rune('a'+i%26))+latchkey.NewID()+"@example.com")
	}
	var want []mail.Message
	for i := 0; i < n; i += 5 { // several commits, so that both workers find work
		want = append(want, enqueue(t, a, r, to[i:i+5]...)...)
	}
	capture.Wait(t, n)
	for _, m := range want {
		waitState(t, a.Mail(), m.ID, mail.StateSent)
	}
	time.Sleep(100 * time.Millisecond)
	seen := map[string]int{}
	for _, got := range capture.Messages() {
		seen[got.To[0]]++
	}
	for _, addr := range to {
		if seen[addr] != 1 {
			t.Errorf("%s received %d messages, want 1", addr, seen[addr])
		}
	}
	if len(capture.Messages()) != n {
		t.Errorf("received %d messages, want %d", len(capture.Messages()), n)
	}
	t.Logf("node-a sent %d, node-b sent %d", sentBy[0].Load(), sentBy[1].Load())
}

func openPostgres(t *testing.T, dsn string) *sqlstore.Store {
	t.Helper()
	s, err := postgres.Open(dsn)
	must(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestNodeSendsMail: a node started with --smtp-url runs the worker, with
// the default From of its public URL's host.
func TestNodeSendsMail(t *testing.T) {
	capture := testenv.StartSMTP(t)
	n := testenv.StartNode(t, "sqlite", func(cfg *server.Config) {
		cfg.Logger, cfg.SMTPURL = quiet, capture.URL
	})
	var m mail.Message
	must(t, n.Store.Mail().Update(t.Context(), func(tx mail.Tx) (err error) {
		m, err = mail.EnqueueBindingEmail(t.Context(), tx, time.Now(), n.Creds().TenantID, n.Creds().RealmID, "ivan@example.com", "test:node",
			mail.BindingEmail{DisplayName: "Ivan", Link: link, ExpireTime: time.Now().Add(time.Hour)})
		return err
	}))
	n.MailWorker.Wake()
	got := capture.Wait(t, 1)[0]
	if got.To[0] != "ivan@example.com" || got.Subject != m.Subject || got.Header.Get("From") != `"Latchkey" <no-reply@localhost>` {
		t.Errorf("received from %q to %q subject %q", got.Header.Get("From"), got.To, got.Subject)
	}
}
