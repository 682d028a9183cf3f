package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
)

// TestKillDuringBatchDelete: SIGKILL while a batch delete of 1000 identities
// runs leaves all of them or none, on both engines. A first, undisturbed
// batch delete measures how long one takes; the node is then killed at
// fractions of that time after sending, so that kills land before, during
// and around the commit.
func TestKillDuringBatchDelete(t *testing.T) {
	const count = 1000
	fractions := []float64{0, 0.2, 0.4, 0.6, 0.8, 1, 1.5}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			args := noRateLimits
			if engine == "postgres" {
				args = append(slices.Clone(args), "--database", testenv.PostgresDSN(t))
			}
			addr, dir := freeAddr(t), t.TempDir()
			n := serve(t, addr, dir, args...)
			tenant := credentials(t, dir)["tenant_id"]
			tok := n.token(t)

			realm := n.createRealm(t, tok, tenant)
			ids := n.createIdentities(t, tok, tenant, realm, count)
			began := time.Now()
			n.expect(t, http.StatusOK, http.MethodPost, identities(tenant, realm)+":batchDelete", tok, map[string]any{"ids": ids})
			took := time.Since(began)
			if total, _ := n.listIdentities(t, tok, tenant, realm, ""); total != 0 {
				t.Fatalf("after a batch delete of all %d identities, %d remain", count, total)
			}
			t.Logf("an undisturbed batch delete of %d identities took %v", count, took)

			outcomes := map[int]int{} // identities left → rounds
			for _, f := range fractions {
				delay := time.Duration(f * float64(took))
				realm := n.createRealm(t, tok, tenant)
				ids := n.createIdentities(t, tok, tenant, realm, count)
				status := n.sendThenKill(t, identities(tenant, realm)+":batchDelete", tok, map[string]any{"ids": ids}, delay)
				n = serve(t, addr, dir, args...)
				total, listed := n.listIdentities(t, tok, tenant, realm, "")
				outcomes[total]++
				t.Logf("killed %v after sending: response %d, %d identities remain", delay.Round(time.Millisecond), status, total)
				if len(listed) != total {
					t.Errorf("total_size %d, but paging listed %d identities", total, len(listed))
				}
				switch total {
				case 0:
				case count:
					if slices.Sort(listed); !slices.Equal(listed, slices.Sorted(slices.Values(ids))) {
						t.Errorf("the %d identities listed are not the ones created", total)
					}
				default:
					t.Errorf("%d of %d identities remain: the batch delete was partly applied", total, count)
				}
				if status == http.StatusOK && total != 0 {
					t.Errorf("the batch delete answered 200 but %d identities remain", total)
				}
			}
			t.Logf("outcomes (identities left: rounds): %v", outcomes)
		})
	}
}

// sendThenKill writes a POST with a JSON body on a connection of its own,
// kills the node delay after the request was sent, and returns the status
// of the response, or 0 when none arrived before the node died.
func (n *node) sendThenKill(t *testing.T, path, token string, body any, delay time.Duration) int {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, n.URL+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	conn, err := net.Dial("tcp", n.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay) // how long the node works on the request before it dies
	n.kill(t)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		return 0
	}
	return resp.StatusCode
}

// TestGracefulShutdown: on SIGTERM the node stops accepting connections but
// finishes the request in flight, then exits with status 0.
func TestGracefulShutdown(t *testing.T) {
	addr, dir := freeAddr(t), t.TempDir()
	n := serve(t, addr, dir)
	c := credentials(t, dir)
	tok := n.token(t)
	body := `{"identity": {"display_name": "In Flight", "traits": {"type": "traits_v0", "username": "inflight"}}}`
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		identities(c["tenant_id"], c["realm_id"]), addr, tok, len(body))

	// A request whose body is only half sent is in flight. The node answers
	// "100 Continue" once its handler reads the body, so after that answer the
	// request is surely being handled (a request whose headers the server
	// reads only after shutdown began would be dropped, by design of net/http).
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	replies := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(replies, nil); err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue, got %v %v", resp, err)
	}
	if _, err := io.WriteString(conn, body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}

	n.cmd.Process.Signal(syscall.SIGTERM)
	// Wait until the node has stopped listening: it is shutting down.
	for deadline := time.Now().Add(10 * time.Second); ; {
		other, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		other.Close()
		if time.Now().After(deadline) {
			t.Fatal("the node still accepts connections 10s after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n.hasExited() {
		t.Fatalf("the node exited (%v) with a request in flight", n.waitErr)
	}

	if _, err := io.WriteString(conn, body[len(body)/2:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(replies, nil)
	if err != nil {
		t.Fatalf("the request in flight got no response: %v", err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the request in flight answered %s: %s", resp.Status, answer)
	}
	var created struct{ ID string }
	json.Unmarshal(answer, &created)

	select {
	case <-n.exited:
		if n.waitErr != nil {
			t.Fatalf("exit status %v, want 0", n.waitErr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the node did not exit within 5s of finishing the request")
	}

	// What the request did was committed.
	n = serve(t, addr, dir)
	n.expect(t, http.StatusOK, http.MethodGet, identities(c["tenant_id"], c["realm_id"])+"/"+created.ID, tok, nil)
}
