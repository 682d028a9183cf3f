package server

import (
	"context"

	"github.com/latchkey/latchkey/internal/passkey"
)

// bindingMailer lets CSV imports send credential binding e-mails through
// the passkey domain's binding jobs.
type bindingMailer struct{ passkeys *passkey.Service }

func (b bindingMailer) CheckBindingConfig(ctx context.Context, tenantID, realmID, configID string) error {
	_, err := b.passkeys.GetAuthenticatorConfig(ctx, tenantID, realmID, configID)
	return err
}

func (b bindingMailer) SendBindingEmail(ctx context.Context, tenantID, realmID, identityID, configID string) error {
	_, _, err := b.passkeys.CreateBindingJob(ctx, tenantID, realmID, identityID,
		passkey.JobRequest{DeliveryMethod: passkey.Email, AuthenticatorConfigID: configID})
	return err
}
