package httpapi

import (
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/mail"
)

type themeIn struct {
	readOnly
	EmailRealmName  *string `json:"email_realm_name"`
	LogoURLLight    *string `json:"logo_url_light"`
	LogoURLDark     *string `json:"logo_url_dark"`
	SupportURL      *string `json:"support_url"`
	ButtonColor     *string `json:"button_color"`
	ButtonTextColor *string `json:"button_text_color"`
}

func (in themeIn) patch() mail.ThemePatch {
	return mail.ThemePatch{
		EmailRealmName: in.EmailRealmName, LogoURLLight: in.LogoURLLight, LogoURLDark: in.LogoURLDark,
		SupportURL: in.SupportURL, ButtonColor: in.ButtonColor, ButtonTextColor: in.ButtonTextColor,
	}
}

func (s *Server) createTheme(w http.ResponseWriter, r *http.Request) {
	var in themeIn
	if err := httpx.DecodeWrapped(w, r, "theme", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	t, err := s.Mail.CreateTheme(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), in.patch())
	httpx.Reply(w, r, t, latchkey.WithFieldPrefix(err, "theme."))
}

func (s *Server) activeTheme(w http.ResponseWriter, r *http.Request) {
	t, err := s.Mail.ActiveTheme(r.Context(), r.PathValue("tenant"), r.PathValue("realm"))
	httpx.Reply(w, r, t, err)
}

func (s *Server) getTheme(w http.ResponseWriter, r *http.Request) {
	t, err := s.Mail.GetTheme(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("theme"))
	httpx.Reply(w, r, t, err)
}

func (s *Server) updateTheme(w http.ResponseWriter, r *http.Request) {
	var in themeIn
	if err := httpx.DecodeWrapped(w, r, "theme", &in, false); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	t, err := s.Mail.UpdateTheme(r.Context(), r.PathValue("tenant"), r.PathValue("realm"), r.PathValue("theme"), in.patch())
	httpx.Reply(w, r, t, latchkey.WithFieldPrefix(err, "theme."))
}
