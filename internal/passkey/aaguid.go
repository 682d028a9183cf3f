package passkey

import (
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sync/atomic"
)

// aaguidsJSON names the authenticators (passkey providers) by AAGUID, in the
// format of the community list passkeydeveloper/passkey-authenticator-aaguids
// (combined_aaguid.json: {"<aaguid>": {"name", "icon_light", "icon_dark"}}).
// Shipped: that list's combined file of 2025-07-02 (FIDO MDS version 179)
// with its curated aaguid.json of 2026-08-07 laid over it; one icon each,
// only those under 20,000 characters, so that the binary grows by about
// 1.2 MB. Operators load a newer file with LoadAuthenticatorNames
// (latchkey serve --aaguid-names).
//
//go:embed aaguids.json
var aaguidsJSON []byte

// provider is an authenticator's entry in the list.
type provider struct {
	Name      string `json:"name"`
	IconLight string `json:"icon_light"`
	IconDark  string `json:"icon_dark"`
}

// providers is the list in use: the shipped one until an operator loads another.
var providers atomic.Pointer[map[string]provider]

func init() {
	m, err := parseAuthenticatorNames(aaguidsJSON)
	if err != nil {
		panic("passkey: the shipped aaguids.json: " + err.Error())
	}
	providers.Store(&m)
}

var aaguidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func parseAuthenticatorNames(data []byte) (map[string]provider, error) {
	var m map[string]provider
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not a JSON object of AAGUIDs: %w", err)
	}
	// The list's maintainers empty it when they retire it: keep the last one.
	if len(m) == 0 {
		return nil, fmt.Errorf("the file names no authenticator")
	}
	for k, p := range m {
		if !aaguidPattern.MatchString(k) {
			return nil, fmt.Errorf("%q is not a lowercase AAGUID", k)
		}
		if p.Name == "" {
			return nil, fmt.Errorf("%s has no name", k)
		}
	}
	return m, nil
}

// LoadAuthenticatorNames replaces the list of authenticator names and icons
// with a file of the same format as the shipped one (the community list's
// combined_aaguid.json or aaguid.json) and returns how many it names.
// Nothing changes when the file is not such a list, or names none.
func LoadAuthenticatorNames(r io.Reader) (int, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	m, err := parseAuthenticatorNames(data)
	if err != nil {
		return 0, err
	}
	providers.Store(&m)
	return len(m), nil
}

// FormatAAGUID writes an AAGUID as a lowercase UUID, "" for none.
func FormatAAGUID(aaguid []byte) string {
	if len(aaguid) != 16 {
		return ""
	}
	h := hex.EncodeToString(aaguid)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// AuthenticatorName is the name of the passkey provider whose authenticator
// has the AAGUID (such as "iCloud Keychain" or "YubiKey 5 Series") and its
// icon as a data: URI (light variant when there are two; "" when the list
// has none), or "", "" when the list does not know it. The AAGUID of
// authenticators that do not tell (all zeros) is never known.
func AuthenticatorName(aaguid []byte) (name, iconDataURI string) {
	p, ok := (*providers.Load())[FormatAAGUID(aaguid)]
	if !ok {
		return "", ""
	}
	if p.IconLight != "" {
		return p.Name, p.IconLight
	}
	return p.Name, p.IconDark
}
