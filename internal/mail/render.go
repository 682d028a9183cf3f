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
	bindingHTML = htmltemplate.Must(htmltemplate.ParseFS(templates, "templates/frame.html", "templates/binding.html"))
	bindingText = texttemplate.Must(texttemplate.ParseFS(templates, "templates/binding.txt"))
	codeHTML    = htmltemplate.Must(htmltemplate.ParseFS(templates, "templates/frame.html", "templates/code.html"))
	codeText    = texttemplate.Must(texttemplate.ParseFS(templates, "templates/code.txt"))
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
		Expires: expires(d.ExpireTime)}
	text, html, err = execute(bindingText, bindingHTML, v)
	return subject, text, html, err
}

func expires(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 MST") }

// execute renders the plain text and HTML bodies of an e-mail.
func execute(text *texttemplate.Template, html *htmltemplate.Template, view any) (string, string, error) {
	var t, h bytes.Buffer
	if err := text.Execute(&t, view); err != nil {
		return "", "", err
	}
	if err := html.Execute(&h, view); err != nil {
		return "", "", err
	}
	return t.String(), h.String(), nil
}

// CodeEmail is what the e-mail carrying a one-time code says.
type CodeEmail struct {
	DisplayName, Username string
	Code                  string
	ExpireTime            time.Time
}

// RenderCodeEmail renders the one-time code e-mail in the theme: its
// subject (without the code, which previews and lock screens would show),
// plain text and HTML.
func RenderCodeEmail(theme Theme, d CodeEmail) (subject, text, html string, err error) {
	subject = "Your sign-in code for " + theme.EmailRealmName
	v := struct {
		CodeEmail
		Theme
		Subject, RealmName, Expires string
	}{d, theme, subject, theme.EmailRealmName, expires(d.ExpireTime)}
	text, html, err = execute(codeText, codeHTML, v)
	return subject, text, html, err
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
