package authenticator

import (
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/otp"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/session"
)

// codeRoutes are the hosted sign-in page's e-mail codes: ask for one, and
// use one to sign in or to create a passkey on this device. A pending
// sign-in authorises them; the application's authenticator config must
// list email_one_time_password.
func (s *Server) codeRoutes(mux *httpx.Mux) {
	mux.HandleFunc("POST "+httpx.AppPath+"/otp", s.requestCode)
	mux.HandleFunc("POST "+httpx.AppPath+"/otp/verify", s.verifyCode)
}

// codeOffer is what the hosted sign-in page of the application whose
// paths start with base offers of e-mail codes under the config c (nil when
// nothing): where to ask for a code, whether a code signs in and whether
// it creates a passkey.
func codeOffer(base string, c passkey.Config) map[string]any {
	signIn, enroll := c.OTP()
	if !signIn && !enroll {
		return nil
	}
	return map[string]any{"url": base + "/otp", "sign_in": signIn, "enroll": enroll}
}

// codeSent is the answer to every request for a code that is not refused,
// whether the address is known or not.
const codeSent = "If this address belongs to an account, a code is on its way to it. It works for 10 minutes."

func (s *Server) requestCode(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Request string `json:"request"`
		Email   string `json:"email"`
	}
	req, config, ok := s.pendingSignIn(w, r, &in, &in.Request)
	if !ok {
		return
	}
	err := s.Codes.Request(r.Context(), otp.Request{TenantID: req.TenantID, RealmID: req.RealmID, Config: config.Config,
		Address: in.Email, IP: latchkey.ClientIPFrom(r.Context())})
	httpx.Reply(w, r, map[string]string{"message": codeSent}, err)
}

// verifyCode checks a code. To sign in, the browser's session starts with
// the code (amr otp) and policy decides, as after a passkey; to enroll, the
// page is given a self-service binding link, with which it creates a
// passkey on this device and then signs in with it.
func (s *Server) verifyCode(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Request string `json:"request"`
		Email   string `json:"email"`
		Code    string `json:"code"`
		Enroll  bool   `json:"enroll"`
	}
	req, config, ok := s.pendingSignIn(w, r, &in, &in.Request)
	if !ok {
		return
	}
	res, err := s.Codes.Verify(r.Context(), otp.Verification{TenantID: req.TenantID, RealmID: req.RealmID, Config: config,
		Address: in.Email, Code: in.Code, Enroll: in.Enroll})
	switch {
	case err != nil:
		httpx.WriteError(w, r, err)
	case in.Enroll:
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"link": res.Link})
	default:
		s.finishInSession(w, r, req, res.Identity, session.SignIn{TenantID: req.TenantID, RealmID: req.RealmID,
			IdentityID: res.Identity.ID, AMR: oauth.EmailCodeAMR, ACR: oauth.EmailCodeACR})
	}
}
