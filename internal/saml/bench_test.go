package saml_test

import (
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	crewsaml "github.com/crewjam/saml"

	"github.com/latchkey/latchkey/internal/saml"
)

// BenchmarkSSOWithSession: SAML SSO for a signed-in user, AuthnRequest
// (HTTP-Redirect) → signed Response (RSA-SHA256, RSA-2048), on SQLite: the
// request parsed and checked, spent in the database, the identity, its
// groups and the realm's certificates read, policy asked. "signed-both":
// the SP signs its requests and wants the envelope and the assertion
// signed (two signatures, one verification); "envelope": an unsigned
// request, a signed Response (one signature). The SP's requests are made
// before the timer starts.
//
//	go test -run '^$' -bench SSOWithSession -benchtime 2000x -cpu 2 ./internal/saml
func BenchmarkSSOWithSession(b *testing.B) {
	for _, bc := range []struct {
		name   string
		signed bool // the SP signs requests and wants the assertion signed too
	}{{"signed-both", true}, {"envelope", false}} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b)
			s := f.addSP(b, func(c *saml.ServiceProvider) { c.SignAssertions, c.ValidateSignedRequests = bc.signed, bc.signed })
			if !bc.signed {
				s.sp.SignatureMethod = ""
			}
			ss := f.signIn(b)
			next := make(chan *http.Request, b.N)
			for range b.N {
				req, err := s.sp.MakeAuthenticationRequest(f.path(s)+"/sso", crewsaml.HTTPRedirectBinding, crewsaml.HTTPPostBinding)
				if err != nil {
					b.Fatal(err)
				}
				u, err := req.Redirect("", s.sp)
				if err != nil {
					b.Fatal(err)
				}
				next <- httptest.NewRequest("GET", u.String(), nil)
			}
			b.ResetTimer()
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					out, err := f.svc.Begin(b.Context(), f.realm.TenantID, f.realm.ID, s.id, <-next, &ss)
					if err != nil || out.Post == nil || out.Post.Denied != "" {
						b.Errorf("Begin: %+v, %v", out, err)
						return
					}
				}
			})
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkWSFedWithSession: a wsignin1.0 for a signed-in user → an RSTR
// with a signed SAML 2.0 assertion (RSA-SHA256, RSA-2048), on SQLite: the
// realm and reply checked, the sign-in recorded (spent) in the database, the
// identity, its groups and the realm's certificates read, policy asked, one
// signature.
//
//	go test -run '^$' -bench WSFedWithSession -benchtime 2000x -cpu 2 ./internal/saml
func BenchmarkWSFedWithSession(b *testing.B) {
	f := newFixture(b)
	id := f.addRP(b)
	ss := f.signIn(b)
	in := saml.WSFedSignIn{Realm: rpRealm, Reply: rpReply, Context: "ctx"}
	b.ResetTimer()
	cpu := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := f.svc.WSFedSignIn(b.Context(), f.realm.TenantID, f.realm.ID, id, in, "192.0.2.1:1", &ss)
			if err != nil || out.Post == nil || out.Post.Denied != "" {
				b.Errorf("WSFedSignIn: %+v, %v", out, err)
				return
			}
		}
	})
	reportCPU(b, cpu)
}

// cpuTime is the CPU time this process used so far.
func cpuTime() time.Duration {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// reportCPU adds the throughput and the process's CPU time per response
// since cpu (cpuTime when the timer started): on a shared machine the wall
// clock says little, the CPU time more.
func reportCPU(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/response")
}
