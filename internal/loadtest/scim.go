package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// Targets of the SCIM suite.
const (
	targetSCIMCreateRate = 1500                  // SCIM user creates per second
	targetSCIMPatchP99   = 20 * time.Millisecond // a PATCH that adds or removes 100 group members
	patchMembers         = 100                   // members added, then removed, by each PATCH
	bigGroup             = 10_000                // members of each worker's group in the second PATCH phase
)

// scimPhases are, in order: SCIM user creates in an empty realm, then, in
// the realm seeded with the identities ids, userName lookups and group
// PATCHes that add 100 members and then remove them again, on groups of 0
// and of bigGroup other members. settleMembers, if not nil, runs once the
// groups of a PATCH phase are made.
func scimPhases(c *client, seeded, created string, ids []string, settleMembers func(context.Context) error) []phase {
	base := func(realm string) string { return "/realms/" + realm + "/scim/v2" }
	patchPhase := func(key string, size int) phase {
		return phase{
			key:     key,
			name:    fmt.Sprintf("SCIM group PATCH ±%d members, group of %d", patchMembers, size),
			latency: true,
			ready:   settleMembers,
			newWorker: func(ctx context.Context, w, workers int) (op, error) {
				if (workers+1)*size > len(ids) {
					return nil, fmt.Errorf("%d workers need more than %d seeded identities", workers, len(ids))
				}
				// The group's own members come from the worker's share of ids;
				// the PATCHes pick from what no group holds.
				gid, err := c.createSCIMGroup(ctx, base(seeded), ids[w*size:(w+1)*size])
				if err != nil {
					return nil, err
				}
				others := ids[workers*size:]
				var added []string
				return func(ctx context.Context) (time.Duration, error) {
					op := "add"
					if added == nil {
						for range patchMembers {
							added = append(added, others[rand.IntN(len(others))])
						}
					} else {
						op = "remove"
					}
					members := make([]map[string]string, len(added))
					for i, id := range added {
						members[i] = map[string]string{"value": id}
					}
					if op == "remove" {
						added = nil
					}
					body, _ := json.Marshal(map[string]any{
						"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
						"Operations": []any{map[string]any{"op": op, "path": "members", "value": members}},
					})
					_, d, err := c.call(ctx, http.MethodPatch, base(seeded)+"/Groups/"+gid, body)
					return d, err
				}, nil
			},
			check: func(r *result) (string, bool) {
				return "p99 < " + targetSCIMPatchP99.String(), r.quantile(0.99) < targetSCIMPatchP99
			},
		}
	}
	return []phase{{
		key:  "create",
		name: "SCIM user create",
		newWorker: func(_ context.Context, w, _ int) (op, error) {
			k := 0
			return func(ctx context.Context) (time.Duration, error) {
				k++
				name := fmt.Sprintf("scim-%d-%d@example.com", w, k)
				body, _ := json.Marshal(map[string]any{
					"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
					"userName": name, "active": true,
					"name":   map[string]string{"givenName": "Load", "familyName": fmt.Sprint(k)},
					"emails": []any{map[string]any{"value": name, "type": "work", "primary": true}},
				})
				_, d, err := c.call(ctx, http.MethodPost, base(created)+"/Users", body)
				return d, err
			}, nil
		},
		check: func(r *result) (string, bool) {
			return fmt.Sprintf("≥ %d req/s", targetSCIMCreateRate), r.rate() >= targetSCIMCreateRate
		},
	}, {
		key:     "filter",
		name:    "SCIM userName eq filter",
		latency: true,
		newWorker: func(context.Context, int, int) (op, error) {
			return func(ctx context.Context) (time.Duration, error) {
				q := url.Values{"filter": {fmt.Sprintf("userName eq %q", username(rand.IntN(len(ids))))}}
				b, d, err := c.call(ctx, http.MethodGet, base(seeded)+"/Users?"+q.Encode(), nil)
				if err != nil {
					return 0, err
				}
				var list struct{ TotalResults int }
				if err := json.Unmarshal(b, &list); err != nil || list.TotalResults != 1 {
					return 0, fmt.Errorf("%s: unexpected answer %.300s", q.Encode(), b)
				}
				return d, nil
			}, nil
		},
		check: func(r *result) (string, bool) {
			return "p99 < " + targetLookupP99.String(), r.quantile(0.99) < targetLookupP99
		},
	}, patchPhase("patch", 0), patchPhase("patch-big", bigGroup)}
}

// createSCIMGroup creates a group with members through SCIM and returns its id.
func (c *client) createSCIMGroup(ctx context.Context, base string, members []string) (string, error) {
	refs := make([]map[string]string, len(members))
	for i, id := range members {
		refs[i] = map[string]string{"value": id}
	}
	body, _ := json.Marshal(map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": "load-" + fmt.Sprint(rand.Int64()), "members": refs,
	})
	b, _, err := c.call(ctx, http.MethodPost, base+"/Groups?attributes=id", body)
	if err != nil {
		return "", err
	}
	var g struct{ ID string }
	if err := json.Unmarshal(b, &g); err != nil || g.ID == "" {
		return "", fmt.Errorf("create group: unexpected answer %.300s", b)
	}
	return g.ID, nil
}
