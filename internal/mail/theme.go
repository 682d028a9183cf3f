package mail

import (
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

// Theme brands a realm's e-mail (and the hosted pages): API §8.
type Theme struct {
	// ID is "" for the default theme of a realm that has none.
	ID              string    `json:"id,omitempty"`
	TenantID        string    `json:"tenant_id"`
	RealmID         string    `json:"realm_id"`
	CreateTime      time.Time `json:"create_time"`
	UpdateTime      time.Time `json:"update_time"`
	EmailRealmName  string    `json:"email_realm_name"`
	LogoURLLight    string    `json:"logo_url_light"`
	LogoURLDark     string    `json:"logo_url_dark"`
	SupportURL      string    `json:"support_url"`
	ButtonColor     string    `json:"button_color"`
	ButtonTextColor string    `json:"button_text_color"`
}

// Default colours, as Beyond Identity's examples show them.
const (
	DefaultButtonColor     = "#4673D3"
	DefaultButtonTextColor = "#FFFFFF"
)

// ThemePatch changes a theme; a nil field is left unchanged.
type ThemePatch struct {
	EmailRealmName, LogoURLLight, LogoURLDark, SupportURL, ButtonColor, ButtonTextColor *string
}

// Apply sets the fields of t that p sets: the service's changes, and the
// console's preview of changes not saved yet.
func (p ThemePatch) Apply(t *Theme) {
	for _, f := range []struct{ dst, v *string }{
		{&t.EmailRealmName, p.EmailRealmName}, {&t.LogoURLLight, p.LogoURLLight}, {&t.LogoURLDark, p.LogoURLDark},
		{&t.SupportURL, p.SupportURL}, {&t.ButtonColor, p.ButtonColor}, {&t.ButtonTextColor, p.ButtonTextColor},
	} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
}

// defaultTheme is the theme of a realm that has none.
func defaultTheme(r directory.Realm) Theme {
	return Theme{
		TenantID: r.TenantID, RealmID: r.ID, CreateTime: r.CreateTime, UpdateTime: r.CreateTime,
		EmailRealmName: r.DisplayName, ButtonColor: DefaultButtonColor, ButtonTextColor: DefaultButtonTextColor,
	}
}

var hexColor = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)

// maxURLLength bounds the URLs of a theme.
const maxURLLength = 2048

// ValidateTheme checks a theme about to be stored. Field names are relative
// to the theme ("email_realm_name").
func ValidateTheme(t Theme) error {
	var v latchkey.Violations
	if t.EmailRealmName == "" {
		v.Add("email_realm_name", "provided email_realm_name must not be empty")
	} else if p := directory.NameProblem(t.EmailRealmName, true, 64); p != "" {
		v.Add("email_realm_name", p)
	}
	for _, f := range []struct{ name, value string }{
		{"logo_url_light", t.LogoURLLight}, {"logo_url_dark", t.LogoURLDark}, {"support_url", t.SupportURL},
	} {
		if f.value != "" && !webURL(f.value) {
			v.Add(f.name, "must be an absolute http or https URL of at most 2048 characters")
		}
	}
	for _, f := range []struct{ name, value string }{
		{"button_color", t.ButtonColor}, {"button_text_color", t.ButtonTextColor},
	} {
		if !hexColor.MatchString(f.value) {
			v.Add(f.name, "must be a colour in the form #RRGGBB")
		}
	}
	return v.Err()
}

// LogoSources is the CSP img-src of a page under publicURL that shows a
// theme's logos, which may be http or https URLs. An https page needs no
// http: (browsers upgrade its http images as mixed content); an http one,
// a local try-out, would otherwise block http logos.
func LogoSources(publicURL string) string {
	if strings.HasPrefix(publicURL, "http://") {
		return "http: https: data:"
	}
	return "https: data:"
}

// webURL reports whether s is an absolute http(s) URL with a host.
func webURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && len(s) <= maxURLLength && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}
