package latchkey

import "testing"

func TestRedirectURIProblem(t *testing.T) {
	for uri, ok := range map[string]bool{
		"https://app.example.com/callback":          true,
		"https://app.example.com:8443/cb?x=1":       true,
		"http://localhost:8080/callback":            true,
		"http://127.0.0.1:51234/cb":                 true,
		"http://[::1]/cb":                           true,
		"com.example.app:/callback":                 true,
		"com.example.app://callback":                true,
		"":                                          false,
		"/relative":                                 false,
		"app.example.com/callback":                  false,
		"https://app.example.com/callback#done":     false,
		"https://app.example.com/callback#":         false,
		"https:///callback":                         false,
		"https:callback":                            false,
		"http://app.example.com/callback":           false,
		"http://localhost.evil.example/cb":          false,
		"http://127.0.0.1.evil.example/cb":          false,
		"javascript:alert(1)":                       false,
		"JavaScript:alert(1)":                       false,
		"javascript://app.example.com/%0aalert(1)":  false,
		" javascript:alert(1)":                      false,
		"data:text/html,<script>alert(1)</script>":  false,
		"vbscript:msgbox(1)":                        false,
		"file:///etc/passwd":                        false,
		"myapp://callback":                          false,
		"https://app.example.com\\@evil.example/cb": false,
		"https://app.example.com/a b":               false,
		"https://app.example.com/\x00":              false,
	} {
		if p := RedirectURIProblem(uri); (p == "") != ok {
			t.Errorf("RedirectURIProblem(%q) = %q, want allowed %v", uri, p, ok)
		}
	}
}
