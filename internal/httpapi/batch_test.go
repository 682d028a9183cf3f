package httpapi_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
)

func TestBatchCredentialBindingJobs(t *testing.T) {
	t.Parallel()
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			c, _, capture := mailNode(t, eng.Name, testenv.SMTPConfig{})
			realm := newRealm(t, c, "Batch")
			config := hostedConfig(t, c, realm)
			ada := str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@example.com"), "id")
			bob := str(t, newIdentity(t, c, realm, "bob", "primary_email_address", "bob@example.com"), "id")
			noMail := str(t, newIdentity(t, c, realm, "carol"), "id")
			ghost := "0123456789abcdef"
			base := "/realms/" + realm + "/batch-credential-binding-jobs"

			b := c.post(t, base, map[string]any{"batch_credential_binding_job": map[string]any{
				"identity_ids": []string{ada, noMail, bob, ghost},
				"job_template": map[string]any{"authenticator_config_id": config, "post_binding_redirect_uri": "https://app.example.com/done"},
			}})
			assertKeys(t, b, "create_time", "id", "identity_ids", "job_template", "realm_id", "state", "state_commentary", "tenant_id", "update_time")
			id := str(t, b, "id")
			if b["state"] != "RUNNING" || obj(t, b, "job_template")["expire_time"] == nil {
				t.Errorf("new batch %v", b)
			}

			deadline := time.Now().Add(15 * time.Second)
			for b["state"] == "RUNNING" {
				if time.Now().After(deadline) {
					t.Fatalf("batch still running: %v", b)
				}
				time.Sleep(50 * time.Millisecond)
				b = c.get(t, base+"/"+id)
			}
			errs := obj(t, obj(t, b, "state_commentary"), "errors")
			if b["state"] != "PARTIAL_SUCCESS" || len(errs) != 2 ||
				obj(t, errs, noMail)["last_error"] != "Identity missing email address" || obj(t, errs, ghost)["last_error"] != "identity not found" {
				t.Errorf("finished batch %v", b)
			}

			res := c.get(t, base+"/"+id+":listResults")
			jobs := items(t, res, "job_results")
			if num(t, res, "total_success_count") != 2 || num(t, res, "total_failure_count") != 2 ||
				num(t, res, "total_pending_count") != 0 || num(t, res, "total_size") != 2 || len(jobs) != 2 {
				t.Errorf("results %v", res)
			}
			for _, j := range jobs {
				if j["batch_id"] != id || j["delivery_method"] != "EMAIL" || j["post_binding_redirect_uri"] != "https://app.example.com/done" {
					t.Errorf("job of the batch %v", j)
				}
			}
			got := map[string]bool{}
			for _, m := range capture.Wait(t, 2) {
				got[m.To[0]] = true
				linkIn(t, m.Text)
			}
			if !got["ada@example.com"] || !got["bob@example.com"] {
				t.Errorf("e-mailed %v", got)
			}
			assertNotFound(t, c.do(t, "GET", base+"/fedcba9876543210", nil), "BatchCredentialBindingJob", "fedcba9876543210",
				"batch credential binding job not found")

			// Bad batches are refused whole.
			assertInvalid(t, c.do(t, "POST", base, map[string]any{"batch_credential_binding_job": map[string]any{
				"identity_ids": []string{}, "job_template": map[string]any{"authenticator_config_id": config}}}),
				"batch_credential_binding_job.identity_ids", "missing")
			assertInvalid(t, c.do(t, "POST", base, map[string]any{"batch_credential_binding_job": map[string]any{
				"identity_ids": []string{ada}, "job_template": map[string]any{}}}),
				"batch_credential_binding_job.job_template.authenticator_config_id", "empty string")

			// At most 1,000 identities wait in a realm's queue.
			many := make([]string, 1000)
			for i := range many {
				many[i] = fmt.Sprintf("%016x", i)
			}
			c.post(t, base, map[string]any{"batch_credential_binding_job": map[string]any{
				"identity_ids": many, "job_template": map[string]any{"authenticator_config_id": config}}})
			full := c.do(t, "POST", base, map[string]any{"batch_credential_binding_job": map[string]any{
				"identity_ids": []string{ada}, "job_template": map[string]any{"authenticator_config_id": config}}})
			assertError(t, full, http.StatusTooManyRequests, "too_many_requests", "too many credential binding jobs are queued in this realm")
			if remaining, err := strconv.Atoi(full.Header.Get("RateLimit-Remaining")); full.Header.Get("RateLimit-Limit") != "1000" || err != nil || remaining < 0 {
				t.Errorf("RateLimit headers %v", full.Header)
			}
		})
	}
}
