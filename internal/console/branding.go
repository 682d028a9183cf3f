package console

import (
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/internal/mail"
)

func (c *Console) brandingRoutes(mux *http.ServeMux) {
	c.handle(mux, "GET "+realmPrefix+"/branding", c.branding, "themes:read")
	// A realm without a theme gets one on its first save, so saving needs both.
	c.handle(mux, "POST "+realmPrefix+"/branding", c.saveBranding, "themes:read", "themes:create", "themes:update")
	c.handle(mux, "GET "+realmPrefix+"/branding/preview", c.brandingPreview, "themes:read")
}

// themeFields are the theme's editable fields, named as in the API.
var themeFields = []string{"email_realm_name", "logo_url_light", "logo_url_dark", "support_url", "button_color", "button_text_color"}

// themeValues are a theme's fields by name.
func themeValues(t mail.Theme) map[string]string {
	return map[string]string{"email_realm_name": t.EmailRealmName, "logo_url_light": t.LogoURLLight, "logo_url_dark": t.LogoURLDark,
		"support_url": t.SupportURL, "button_color": t.ButtonColor, "button_text_color": t.ButtonTextColor}
}

// themePatch changes the fields that values has, for saving and previewing.
func themePatch(values url.Values) mail.ThemePatch {
	field := func(name string) *string {
		if !values.Has(name) {
			return nil
		}
		return ptr(values.Get(name))
	}
	return mail.ThemePatch{EmailRealmName: field("email_realm_name"), LogoURLLight: field("logo_url_light"), LogoURLDark: field("logo_url_dark"),
		SupportURL: field("support_url"), ButtonColor: field("button_color"), ButtonTextColor: field("button_text_color")}
}

// brandingView is the branding page: the theme form and the preview of the
// binding e-mail with its values.
type brandingView struct {
	Theme   *form
	Preview string // the preview's URL
}

func (c *Console) branding(q *request) error {
	t, err := c.Mail.ActiveTheme(q.Context(), q.tenantID, q.realm.ID)
	if err != nil {
		return err
	}
	c.showBranding(q, http.StatusOK, &form{Values: themeValues(t), Errors: map[string]string{}})
	return nil
}

func (c *Console) showBranding(q *request, status int, theme *form) {
	values := url.Values{}
	for _, name := range themeFields {
		values.Set(name, theme.Values[name])
	}
	q.render(status, "branding.html", "Branding", "branding", brandingView{Theme: theme,
		Preview: q.realmPath("/branding/preview?" + values.Encode())})
}

// saveBranding updates the realm's theme, or creates it from the default
// one on the first save.
func (c *Console) saveBranding(q *request) error {
	f := q.newForm(themeFields...)
	current, err := c.Mail.ActiveTheme(q.Context(), q.tenantID, q.realm.ID)
	if err != nil {
		return err
	}
	typed := url.Values{}
	for name, v := range f.Values {
		typed.Set(name, v)
	}
	if current.ID == "" {
		_, err = c.Mail.CreateTheme(q.Context(), q.tenantID, q.realm.ID, themePatch(typed))
	} else {
		_, err = c.Mail.UpdateTheme(q.Context(), q.tenantID, q.realm.ID, current.ID, themePatch(typed))
	}
	if err != nil {
		if !f.refused(err, "") {
			return err
		}
		c.showBranding(q, http.StatusUnprocessableEntity, f)
		return nil
	}
	q.redirect(q.realmPath("/branding"), "Branding saved.")
	return nil
}

// brandingPreview is the binding e-mail in the realm's theme changed by
// the query's values, as the page's iframe shows it: the e-mail's own
// HTML, inline styles and all, under a CSP of its own.
func (c *Console) brandingPreview(q *request) error {
	t, err := c.Mail.ActiveTheme(q.Context(), q.tenantID, q.realm.ID)
	if err != nil {
		return err
	}
	themePatch(q.URL.Query()).Apply(&t)
	_, _, html, err := mail.RenderSampleBindingEmail(t, c.linkExpiry())
	if err != nil {
		return err
	}
	frameableHeaders(q.w, c.PublicURL)
	q.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	q.w.Header().Set("Cache-Control", "no-store")
	_, err = q.w.Write([]byte(html))
	return err
}
