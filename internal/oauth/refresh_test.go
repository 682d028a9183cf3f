package oauth

import "testing"

func TestNarrowedScope(t *testing.T) {
	for _, c := range []struct {
		granted, asked, want string
		refused              bool
	}{
		{"openid profile", "", "openid profile", false},
		{"openid profile", "openid", "openid", false},
		{"openid profile", "profile openid", "profile openid", false},
		{"openid profile", "openid email", "", true},
		{"", "openid", "", true},
	} {
		got, err := narrowedScope(c.granted, c.asked)
		if (err != nil) != c.refused || got != c.want {
			t.Errorf("narrowedScope(%q, %q) = %q, %v; want %q, refused %v", c.granted, c.asked, got, err, c.want, c.refused)
		}
		if e, ok := err.(*Error); err != nil && (!ok || e.Code != "invalid_scope") {
			t.Errorf("narrowedScope(%q, %q) refused with %v, want invalid_scope", c.granted, c.asked, err)
		}
	}
}
