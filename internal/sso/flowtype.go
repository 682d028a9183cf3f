package sso

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

// Launch mechanisms: which flows (ways of handing a sign-in to the
// authenticator) each platform may use in a realm. A flow is valid on a
// platform where it exists at all (Valid, fixed by Latchkey) and enabled
// there when the realm allows it; a realm starts with every valid flow enabled.

// Platforms and Flows are the API's names, in its order.
var (
	Platforms = []string{"android", "macos", "ios", "windows", "web", "linux", "chromeos", "chromeosweb"}
	Flows     = []string{"unknown", "scheme", "embedded", "copy", "roaming_auth", "android_autofill", "android_accessibility",
		"pipe", "localhost", "universal_link", "safari_extension", "layered_auth_qr_code", "secure_localhost"}
)

// validOn lists the platforms a flow exists on; flows not listed exist on every one.
var validOn = map[string][]string{
	"scheme":                {"android", "macos", "ios", "windows", "web", "linux", "chromeos"},
	"android_autofill":      {"android"},
	"android_accessibility": {"android"},
	"pipe":                  {"macos", "windows", "linux"},
	"localhost":             {"macos", "windows", "web", "linux", "chromeos"},
	"secure_localhost":      {"macos", "windows", "web", "linux", "chromeos"},
	"universal_link":        {"android", "macos", "ios"},
	"safari_extension":      {"macos", "ios"},
}

// Valid reports whether a flow exists on a platform.
func Valid(platform, flow string) bool {
	ps, ok := validOn[flow]
	return slices.Contains(Flows, flow) && slices.Contains(Platforms, platform) && (!ok || slices.Contains(ps, platform))
}

// FlowType is one flow on one platform.
type FlowType struct {
	Enabled bool `json:"enabled"`
	Valid   bool `json:"valid"`
}

// FlowTypeConfig is a realm's launch mechanisms: platform → flow → state.
type FlowTypeConfig struct {
	ID             string                         `json:"id"`
	TenantID       string                         `json:"tenant_id"`
	RealmID        string                         `json:"realm_id"`
	CreateTime     time.Time                      `json:"create_time"`
	UpdateTime     time.Time                      `json:"update_time"`
	PlatformConfig map[string]map[string]FlowType `json:"platform_config"`
}

// Enabled reports whether a realm allows a flow on a platform; the hosted
// pages ask it before they offer one.
func (c FlowTypeConfig) Enabled(platform, flow string) bool {
	return c.PlatformConfig[platform][flow].Enabled
}

// FlowTypePatch sets flows on or off: platform → flow → enabled.
type FlowTypePatch map[string]map[string]FlowTypeChange

// FlowTypeChange is a request's state of one flow; Valid is read-only and ignored.
type FlowTypeChange struct {
	Enabled *bool `json:"enabled"`
	Valid   *bool `json:"valid"`
}

func defaultFlowTypes(tenantID, realmID string, now time.Time) FlowTypeConfig {
	c := FlowTypeConfig{ID: latchkey.NewUUID(), TenantID: tenantID, RealmID: realmID, CreateTime: now, UpdateTime: now,
		PlatformConfig: map[string]map[string]FlowType{}}
	for _, p := range Platforms {
		c.PlatformConfig[p] = map[string]FlowType{}
		for _, f := range Flows {
			c.PlatformConfig[p][f] = FlowType{Enabled: Valid(p, f), Valid: Valid(p, f)}
		}
	}
	return c
}

// flowTypes returns the realm's config in tx, made with its defaults if it has none.
func (s *Service) flowTypes(ctx context.Context, tx Tx, tenantID, realmID string) (FlowTypeConfig, error) {
	c, err := tx.GetFlowTypeConfig(ctx, tenantID, realmID)
	if !errors.Is(err, latchkey.ErrNotFound) {
		return c, err
	}
	if _, err := directory.LookupRealm(ctx, tx, tenantID, realmID); err != nil {
		return c, err
	}
	c = defaultFlowTypes(tenantID, realmID, s.Clock.Now())
	return c, tx.PutFlowTypeConfig(ctx, c)
}

// FlowTypes returns a realm's launch mechanisms, made with their defaults
// on the first read as the API says.
func (s *Service) FlowTypes(ctx context.Context, tenantID, realmID string) (c FlowTypeConfig, err error) {
	if c, err = s.store.GetFlowTypeConfig(ctx, tenantID, realmID); !errors.Is(err, latchkey.ErrNotFound) {
		return c, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		c, err = s.flowTypes(ctx, tx, tenantID, realmID)
		return err
	})
	return c, err
}

// UpdateFlowTypes enables or disables flows; a flow that does not exist on
// a platform cannot be enabled there.
func (s *Service) UpdateFlowTypes(ctx context.Context, tenantID, realmID string, patch FlowTypePatch) (c FlowTypeConfig, err error) {
	var v latchkey.Violations
	for _, p := range slices.Sorted(maps.Keys(patch)) {
		if !slices.Contains(Platforms, p) {
			v.Add(p, "unknown platform: one of "+strings.Join(Platforms, ", "))
			continue
		}
		for _, f := range slices.Sorted(maps.Keys(patch[p])) {
			ch := patch[p][f]
			switch {
			case !slices.Contains(Flows, f):
				v.Add(p+"."+f, "unknown flow: one of "+strings.Join(Flows, ", "))
			case ch.Enabled != nil && *ch.Enabled && !Valid(p, f):
				v.Add(p+"."+f+".enabled", "the flow "+f+" does not exist on "+p)
			}
		}
	}
	if err := v.Err(); err != nil {
		return c, err
	}
	defer s.launches.Clear() // once the change is committed
	err = s.store.Update(ctx, func(tx Tx) error {
		if c, err = s.flowTypes(ctx, tx, tenantID, realmID); err != nil {
			return err
		}
		for p, flows := range patch {
			for f, ch := range flows {
				if ch.Enabled != nil {
					c.PlatformConfig[p][f] = FlowType{Enabled: *ch.Enabled, Valid: Valid(p, f)}
				}
			}
		}
		c.UpdateTime = s.Clock.Now()
		if err := tx.PutFlowTypeConfig(ctx, c); err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "flow_type_config.update", "FlowTypeConfig", c.ID)
	})
	return c, err
}
