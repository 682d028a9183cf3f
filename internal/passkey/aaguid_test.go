package passkey

import (
	"strings"
	"testing"
)

func TestAuthenticatorName(t *testing.T) {
	yubikey := []byte{0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40, 0x39, 0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1, 0x54, 0xa8}
	if got := FormatAAGUID(yubikey); got != "cb69481e-8ff7-4039-93ec-0a2729a154a8" {
		t.Fatalf("FormatAAGUID = %q", got)
	}
	name, icon := AuthenticatorName(yubikey)
	if name != "YubiKey 5 Series" || !strings.HasPrefix(icon, "data:image/") {
		t.Errorf("shipped list: %q, icon %.30q", name, icon)
	}
	for _, unknown := range [][]byte{make([]byte, 16), nil, {1, 2, 3}} {
		if name, icon := AuthenticatorName(unknown); name != "" || icon != "" {
			t.Errorf("AuthenticatorName(%x) = %q, %q; want nothing", unknown, name, icon)
		}
	}
}

func TestLoadAuthenticatorNames(t *testing.T) {
	t.Cleanup(func() { // the shipped list again, for the other tests
		if _, err := LoadAuthenticatorNames(strings.NewReader(string(aaguidsJSON))); err != nil {
			t.Fatal(err)
		}
	})
	for _, bad := range []string{`{}`, `[]`, `not json`, `{"CB69481E-8FF7-4039-93EC-0A2729A154A8":{"name":"x"}}`,
		`{"cb69481e-8ff7-4039-93ec-0a2729a154a8":{"icon_light":"data:,"}}`} {
		if _, err := LoadAuthenticatorNames(strings.NewReader(bad)); err == nil {
			t.Errorf("loaded %s", bad)
		}
	}
	if name, _ := AuthenticatorName([]byte{0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40, 0x39, 0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1, 0x54, 0xa8}); name != "YubiKey 5 Series" {
		t.Fatalf("a refused file changed the list: %q", name)
	}
	n, err := LoadAuthenticatorNames(strings.NewReader(`{"01020304-0506-0708-0102-030405060708":{"name":"Test Key","icon_dark":"data:image/svg+xml;base64,PHN2Zy8+"}}`))
	if err != nil || n != 1 {
		t.Fatalf("load: %d, %v", n, err)
	}
	if name, icon := AuthenticatorName([]byte{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}); name != "Test Key" || icon != "data:image/svg+xml;base64,PHN2Zy8+" {
		t.Errorf("loaded list: %q, %q", name, icon)
	}
	if name, _ := AuthenticatorName([]byte{0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40, 0x39, 0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1, 0x54, 0xa8}); name != "" {
		t.Errorf("the loaded list replaces the shipped one, yet it still names %q", name)
	}
}
