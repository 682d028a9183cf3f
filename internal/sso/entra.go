package sso

import (
	"context"
	"errors"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauth"
)

// EAM returns the entra_id_external_auth_methods config that the
// application appID backs (oauth.EAMConfigs): ok is false for an
// application that backs none, or a config of another type.
func (s *Service) EAM(ctx context.Context, tenantID, realmID, appID string) (oauth.EAM, bool, error) {
	c, err := s.store.GetSSOConfigOfApplication(ctx, tenantID, realmID, appID)
	if errors.Is(err, latchkey.ErrNotFound) {
		return oauth.EAM{}, false, nil
	}
	if err != nil {
		return oauth.EAM{}, false, err
	}
	p, ok := c.Payload.(*EntraID)
	if !ok {
		return oauth.EAM{}, false, nil
	}
	return oauth.EAM{ConfigID: c.ID, Cloud: p.DiscoverEndpoint}, true, nil
}
