package saml

import (
	"context"
	"errors"
	"net/http"

	crewsaml "github.com/crewjam/saml"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/session"
)

// Logout takes an SP's LogoutRequest (Single Logout, HTTP-Redirect or
// HTTP-POST binding): it must have no DTD, be signed by one of the SP's
// certificates, be addressed to this config's SLO URL, be current and never
// seen before. The sessions it names (its SessionIndexes, the session ids
// the assertions carried) end when their identity is the request's NameID.
// The caller answers with the returned request's LogoutResponse.
func (s *Service) Logout(ctx context.Context, tenantID, realmID, configID string, r *http.Request) (*crewsaml.IdpLogoutRequest, []session.Session, error) {
	idp, sp, _, err := s.provider(ctx, tenantID, realmID, configID, servesSAML)
	if err != nil {
		return nil, nil, err
	}
	if !sp.EnableSingleLogout {
		return nil, nil, badRequest("single logout is not enabled for this service provider")
	}
	lr, err := crewsaml.NewIdpLogoutRequest(idp, r)
	if err != nil {
		return nil, nil, badRequest("the SAML logout request cannot be read: %v", err)
	}
	if err := refuseDTD(lr.RequestBuffer); err != nil {
		return nil, nil, err
	}
	if err := lr.Validate(); err != nil {
		return nil, nil, badRequest("the SAML logout request is refused: %v", err)
	}
	var ids []string
	for _, index := range lr.Request.AllSessionIndexes() {
		v, err := s.store.GetSession(ctx, index.Value)
		if errors.Is(err, latchkey.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if v.TenantID != tenantID || v.RealmID != realmID || !v.Live(s.Clock.Now()) {
			continue
		}
		i, err := s.store.GetIdentity(ctx, realmID, v.IdentityID)
		if err == nil && sp.nameID(i) == lr.Request.NameID.Value {
			ids = append(ids, v.ID)
		}
	}
	if len(ids) == 0 {
		return lr, nil, nil
	}
	var ended []session.Session
	err = s.store.Update(ctx, func(tx Tx) error {
		ended, err = tx.EndSessions(ctx, session.End{At: s.Clock.Now(), Reason: session.ReasonSignedOut, IDs: ids})
		return err
	})
	return lr, ended, err
}

// DeleteExpiredRequests removes the sign-ins that expired, for the node's sweep.
func (s *Service) DeleteExpiredRequests(ctx context.Context) (int, error) {
	return s.store.DeleteExpiredSAMLRequests(ctx, s.Clock.Now())
}
