package mail

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	texttemplate "text/template"
	"time"
)

// BindingEmail is what the credential binding e-mail says.
type BindingEmail struct {
	DisplayName, Username string
	Link                  string // the credential binding link
	ExpireTime            time.Time
}

//go:embed templates
var templates embed.FS

var (
	bindingHTML = htmltemplate.Must(htmltemplate.ParseFS(templates, "templates/binding.html"))
	bindingText = texttemplate.Must(texttemplate.ParseFS(templates, "templates/binding.txt"))
)

// bindingView is what the binding templates see.
type bindingView struct {
	BindingEmail
	Theme
	Subject, RealmName, Expires string
}

// RenderBindingEmail renders the credential binding e-mail in the theme:
// its subject, plain text and HTML. The HTML has inline styles only and
// escapes every value.
func RenderBindingEmail(theme Theme, d BindingEmail) (subject, text, html string, err error) {
	subject = "Create your passkey for " + theme.EmailRealmName
	v := bindingView{BindingEmail: d, Theme: theme, Subject: subject, RealmName: theme.EmailRealmName,
		Expires: d.ExpireTime.UTC().Format("2 January 2006, 15:04 MST")}
	var t, h bytes.Buffer
	if err := bindingText.Execute(&t, v); err != nil {
		return "", "", "", err
	}
	if err := bindingHTML.Execute(&h, v); err != nil {
		return "", "", "", err
	}
	return subject, t.String(), h.String(), nil
}

// sampleBinding is the made-up recipient of a preview or test e-mail; its
// link leads nowhere, so a test message cannot bind a passkey.
var sampleBinding = BindingEmail{DisplayName: "Jane Doe", Username: "jane", Link: "https://example.invalid/credential-binding-link"}

// RenderSampleBindingEmail renders the binding e-mail in the theme for a
// made-up recipient, its link expiring when a link made now would, as the
// console's preview and test e-mail show it.
func RenderSampleBindingEmail(theme Theme, expires time.Time) (subject, text, html string, err error) {
	d := sampleBinding
	d.ExpireTime = expires
	return RenderBindingEmail(theme, d)
}
