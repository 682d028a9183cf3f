package directory_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

// forbidden are the characters no display name, username or description may
// contain, spelled out here rather than taken from the package.
var forbidden = []string{"{", "}", "[", "]", "<", ">", ";", ":", "?", `\`, "/", "|", "*", "^", "%", "$", "#", "=", "~", "`", "!"}

// controls are the control characters (C0, DEL and C1), also refused in names.
func controls() []string {
	var cs []string
	for r := rune(0); r < 0x20; r++ {
		cs = append(cs, string(r))
	}
	for r := rune(0x7f); r < 0xa0; r++ {
		cs = append(cs, string(r))
	}
	return cs
}

// violated returns the fields err reports, in order, after checking that err
// is a 400 of field violations. A nil err reports none.
func violated(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *latchkey.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %T %v, want *latchkey.Error", err, err)
	}
	if e.Code != latchkey.CodeBadRequest || len(e.Details) != 1 || e.Details[0].Type != "FieldViolations" {
		t.Fatalf("err = %+v, want a 400 with one FieldViolations detail", e)
	}
	var fields []string
	for _, v := range e.Details[0].FieldViolations {
		if v.Description == "" {
			t.Errorf("violation of %q has no description", v.Field)
		}
		fields = append(fields, v.Field)
	}
	return fields
}

// nameCases are values of a name field of at most max characters, and
// whether they are valid.
func nameCases(max int, required bool) []struct {
	name  string
	value string
	ok    bool
} {
	type nc = struct {
		name  string
		value string
		ok    bool
	}
	cases := []nc{
		{"empty", "", !required},
		{"one character", "a", true},
		{"spaces and punctuation", "Ann O'Neil-Smith, Jr. (admin) @ HQ & co + 1 \"x\" _ ' , .", true},
		{"non-ASCII letters", "José Müller 山田 😀", true},
		{fmt.Sprintf("%d ASCII", max), strings.Repeat("a", max), true},
		{fmt.Sprintf("%d ASCII", max+1), strings.Repeat("a", max+1), false},
		{fmt.Sprintf("%d two-byte runes", max), strings.Repeat("é", max), true},
		{fmt.Sprintf("%d two-byte runes", max+1), strings.Repeat("é", max+1), false},
		{fmt.Sprintf("%d three-byte runes", max), strings.Repeat("山", max), true},
		{fmt.Sprintf("%d four-byte runes", max), strings.Repeat("😀", max), true},
		{fmt.Sprintf("%d four-byte runes", max+1), strings.Repeat("😀", max+1), false},
		{"invalid UTF-8", "a\xffb", false},
		{"truncated UTF-8", "a\xe5\xb1", false},
		{"DEL", "a\x7fb", false},
		{"U+FFFD itself", "a\uFFFDb", true},
	}
	for _, c := range forbidden {
		cases = append(cases, nc{"forbidden " + c, "a" + c + "b", false}, nc{"only " + c, c, false})
	}
	for _, c := range controls() {
		cases = append(cases, nc{fmt.Sprintf("control %U", []rune(c)[0]), "a" + c + "b", false})
	}
	return cases
}

func validIdentity() directory.Identity {
	return directory.Identity{
		DisplayName: "Ann",
		Status:      directory.StatusActive,
		Traits: directory.Traits{
			Type:                directory.TraitsV0,
			Username:            "ann",
			PrimaryEmailAddress: "ann@example.com",
		},
	}
}

// email builds a syntactically valid address of n bytes (n ≥ 70).
func email(n int) string {
	local := strings.Repeat("a", 64) + "@"
	var domain []string
	rest := n - len(local)
	for rest > 0 {
		l := min(rest, 63)
		if rest-l == 1 { // never leave a lone dot
			l--
		}
		domain = append(domain, strings.Repeat("b", l))
		rest -= l + 1
	}
	s := local + strings.Join(domain, ".")
	if len(s) != n {
		panic(fmt.Sprintf("email(%d) built %d bytes", n, len(s)))
	}
	return s
}

func TestValidateIdentity(t *testing.T) {
	type tc struct {
		name   string
		edit   func(*directory.Identity)
		fields []string
	}
	cases := []tc{
		{"valid", func(*directory.Identity) {}, nil},
		{"suspended", func(i *directory.Identity) { i.Status = directory.StatusSuspended }, nil},
		{"every trait set", func(i *directory.Identity) {
			for _, n := range directory.TraitNames {
				if *i.Traits.Field(n) == "" {
					*i.Traits.Field(n) = "x"
				}
			}
			i.Traits.SecondaryEmailAddress = "ann@example.org"
		}, nil},
		{"no status", func(i *directory.Identity) { i.Status = "" }, []string{"status"}},
		{"status in capitals", func(i *directory.Identity) { i.Status = "ACTIVE" }, []string{"status"}},
		{"unknown status", func(i *directory.Identity) { i.Status = "disabled" }, []string{"status"}},
		{"no traits type", func(i *directory.Identity) { i.Traits.Type = "" }, []string{"traits.type"}},
		{"other traits type", func(i *directory.Identity) { i.Traits.Type = "traits_v1" }, []string{"traits.type"}},
		{"no e-mail addresses", func(i *directory.Identity) { i.Traits.PrimaryEmailAddress = "" }, nil},
		{"everything wrong", func(i *directory.Identity) {
			*i = directory.Identity{Traits: directory.Traits{PrimaryEmailAddress: "a@", SecondaryEmailAddress: "b", Title: "\xff"}}
		}, []string{"display_name", "status", "traits.type", "traits.username",
			"traits.primary_email_address", "traits.secondary_email_address", "traits.title"}},
	}
	for _, nc := range nameCases(64, true) {
		fields := []string{"display_name"}
		if nc.ok {
			fields = nil
		}
		cases = append(cases, tc{"display_name " + nc.name, func(i *directory.Identity) { i.DisplayName = nc.value }, fields})
		fields = []string{"traits.username"}
		if nc.ok {
			fields = nil
		}
		cases = append(cases, tc{"username " + nc.name, func(i *directory.Identity) { i.Traits.Username = nc.value }, fields})
	}
	for _, e := range []struct {
		value string
		ok    bool
	}{
		{"a@b.c", true},
		{"Ann.O'Neil+tag@sub.example.com", true},
		{"user@localhost", true},
		{"ANN@EXAMPLE.COM", true},
		{email(254), true},
		{email(255), false},
		{email(300), false},
		{"a@", false},
		{"@b.c", false},
		{"a", false},
		{"ab.c", false},
		{"a@@b.c", false},
		{"a@b@c.d", false},
		{"a b@c.d", false},
		{"a@b .c", false},
		{"Name <a@b.c>", false},
		{"<a@b.c>", false},
		{`"Name" <a@b.c>`, false},
		{"a@b.c (Name)", false},
		{" a@b.c", false},
		{"a@b.c ", false},
		{"a@b.c, d@e.f", false},
		{"a@b.c\n", false},
		{"a\x00@b.c", false},
		{"a@b.c\xff", false},
	} {
		for _, field := range []string{"primary_email_address", "secondary_email_address"} {
			want := []string{"traits." + field}
			if e.ok {
				want = nil
			}
			cases = append(cases, tc{field + " " + e.value, func(i *directory.Identity) { *i.Traits.Field(field) = e.value }, want})
		}
	}
	for _, name := range directory.TraitNames {
		if name == "username" || strings.HasSuffix(name, "_email_address") {
			continue
		}
		field := []string{"traits." + name}
		cases = append(cases,
			tc{name + " 1024 bytes", func(i *directory.Identity) { *i.Traits.Field(name) = strings.Repeat("x", 1024) }, nil},
			tc{name + " 1025 bytes", func(i *directory.Identity) { *i.Traits.Field(name) = strings.Repeat("x", 1025) }, field},
			// Traits are bounded in bytes, not runes: 512 two-byte runes fit, 513 do not.
			tc{name + " 512 two-byte runes", func(i *directory.Identity) { *i.Traits.Field(name) = strings.Repeat("é", 512) }, nil},
			tc{name + " 513 two-byte runes", func(i *directory.Identity) { *i.Traits.Field(name) = strings.Repeat("é", 513) }, field},
			tc{name + " invalid UTF-8", func(i *directory.Identity) { *i.Traits.Field(name) = "a\xffb" }, field},
			tc{name + " NUL", func(i *directory.Identity) { *i.Traits.Field(name) = "a\x00b" }, field},
			tc{name + " control character", func(i *directory.Identity) { *i.Traits.Field(name) = "a\x1bb" }, field},
			// Other traits may hold what names may not.
			tc{name + " punctuation and newlines", func(i *directory.Identity) { *i.Traits.Field(name) = "{a}:\n/b?" }, nil},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			i := validIdentity()
			c.edit(&i)
			got := violated(t, directory.ValidateIdentity(i))
			if !slices.Equal(got, c.fields) {
				t.Errorf("violations = %q, want %q", got, c.fields)
			}
		})
	}
}

func TestValidateGroup(t *testing.T) {
	type tc struct {
		name   string
		group  directory.Group
		fields []string
	}
	var cases []tc
	for _, nc := range nameCases(64, true) {
		var fields []string
		if !nc.ok {
			fields = []string{"display_name"}
		}
		cases = append(cases, tc{"display_name " + nc.name, directory.Group{DisplayName: nc.value}, fields})
	}
	for _, nc := range nameCases(300, false) {
		var fields []string
		if !nc.ok {
			fields = []string{"description"}
		}
		cases = append(cases, tc{"description " + nc.name, directory.Group{DisplayName: "g", Description: nc.value}, fields})
	}
	cases = append(cases, tc{"both wrong", directory.Group{Description: strings.Repeat("a", 301)}, []string{"display_name", "description"}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := violated(t, directory.ValidateGroup(c.group))
			if !slices.Equal(got, c.fields) {
				t.Errorf("violations = %q, want %q", got, c.fields)
			}
		})
	}
}

func TestValidateRealm(t *testing.T) {
	type tc struct {
		name   string
		realm  directory.Realm
		fields []string
	}
	cases := []tc{
		{"workforce", directory.Realm{DisplayName: "r", Classification: "SECURE_WORKFORCE"}, nil},
		{"customer", directory.Realm{DisplayName: "r", Classification: "SECURE_CUSTOMER"}, nil},
		{"no classification", directory.Realm{DisplayName: "r"}, []string{"classification"}},
		{"classification in lower case", directory.Realm{DisplayName: "r", Classification: "secure_workforce"}, []string{"classification"}},
		{"unknown classification", directory.Realm{DisplayName: "r", Classification: "SECURE"}, []string{"classification"}},
		{"both wrong", directory.Realm{Classification: "x"}, []string{"display_name", "classification"}},
		{"session lifetimes", directory.Realm{DisplayName: "r", Classification: "SECURE_CUSTOMER", SessionIdleTimeout: 60, SessionLifetime: 365 * 86400}, nil},
		{"session lifetimes out of range", directory.Realm{DisplayName: "r", Classification: "SECURE_CUSTOMER", SessionIdleTimeout: 59,
			SessionLifetime: 365*86400 + 1}, []string{"session_idle_timeout", "session_lifetime"}},
		{"negative session lifetimes", directory.Realm{DisplayName: "r", Classification: "SECURE_CUSTOMER", SessionIdleTimeout: -1,
			SessionLifetime: -1}, []string{"session_idle_timeout", "session_lifetime"}},
	}
	for _, nc := range nameCases(64, true) {
		var fields []string
		if !nc.ok {
			fields = []string{"display_name"}
		}
		cases = append(cases, tc{"display_name " + nc.name,
			directory.Realm{DisplayName: nc.value, Classification: directory.SecureWorkforce}, fields})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := violated(t, directory.ValidateRealm(c.realm))
			if !slices.Equal(got, c.fields) {
				t.Errorf("violations = %q, want %q", got, c.fields)
			}
		})
	}
}

func TestValidateTenant(t *testing.T) {
	for _, nc := range nameCases(64, true) {
		t.Run(nc.name, func(t *testing.T) {
			var want []string
			if !nc.ok {
				want = []string{"display_name"}
			}
			got := violated(t, directory.ValidateTenant(directory.Tenant{DisplayName: nc.value}))
			if !slices.Equal(got, want) {
				t.Errorf("violations = %q, want %q", got, want)
			}
		})
	}
}

func TestValidateTraitsPatch(t *testing.T) {
	all := directory.TraitsPatch{"type": directory.TraitsV0}
	for _, n := range directory.TraitNames {
		all[n] = "x"
	}
	for _, tc := range []struct {
		name   string
		patch  directory.TraitsPatch
		fields []string
	}{
		{"nil", nil, nil},
		{"empty", directory.TraitsPatch{}, nil},
		{"type", directory.TraitsPatch{"type": directory.TraitsV0}, nil},
		{"every trait", all, nil},
		{"clearing", directory.TraitsPatch{"username": "", "title": ""}, nil},
		{"unknown", directory.TraitsPatch{"nope": "x"}, []string{"traits.nope"}},
		{"empty name", directory.TraitsPatch{"": "x"}, []string{"traits."}},
		{"wrong case", directory.TraitsPatch{"Username": "x"}, []string{"traits.Username"}},
		{"camel case", directory.TraitsPatch{"familyName": "x"}, []string{"traits.familyName"}},
		{"prefixed", directory.TraitsPatch{"traits.username": "x"}, []string{"traits.traits.username"}},
		{"known and unknown", directory.TraitsPatch{"username": "x", "nope": "x"}, []string{"traits.nope"}},
		{"several unknown, in order", directory.TraitsPatch{"e": "", "c": "", "a": "", "d": "", "b": "", "title": ""},
			[]string{"traits.a", "traits.b", "traits.c", "traits.d", "traits.e"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Maps iterate in random order; the report must not.
			for range 20 {
				got := violated(t, directory.ValidateTraitsPatch(tc.patch))
				if !slices.Equal(got, tc.fields) {
					t.Fatalf("violations = %q, want %q", got, tc.fields)
				}
			}
		})
	}
}

func TestTraitsPatchApply(t *testing.T) {
	base := directory.Traits{Type: directory.TraitsV0, Username: "ann", Title: "Dr", Locale: "en"}
	for _, tc := range []struct {
		name  string
		patch directory.TraitsPatch
		want  directory.Traits
	}{
		{"nil", nil, base},
		{"empty", directory.TraitsPatch{}, base},
		{"set", directory.TraitsPatch{"username": "bob", "family_name": "Smith"},
			directory.Traits{Type: directory.TraitsV0, Username: "bob", FamilyName: "Smith", Title: "Dr", Locale: "en"}},
		{"clear", directory.TraitsPatch{"title": ""},
			directory.Traits{Type: directory.TraitsV0, Username: "ann", Locale: "en"}},
		{"unknown names are ignored", directory.TraitsPatch{"nope": "x", "Username": "x"}, base},
		{"type", directory.TraitsPatch{"type": "traits_v1"},
			directory.Traits{Type: "traits_v1", Username: "ann", Title: "Dr", Locale: "en"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base
			got := tc.patch.Apply(in)
			if got != tc.want {
				t.Errorf("Apply = %+v\nwant    %+v", got, tc.want)
			}
			if in != base {
				t.Errorf("Apply changed its argument to %+v", in)
			}
		})
	}
	// Each name sets its own field and no other.
	for _, name := range directory.TraitNames {
		got := directory.TraitsPatch{name: "v"}.Apply(directory.Traits{})
		if set := setFields(got); !slices.Equal(set, []string{name}) {
			t.Errorf("Apply(%q) set %q", name, set)
		}
	}
}

// jsonName is the name a field of Traits has in the API.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// setFields lists the JSON names of the non-empty fields of t.
func setFields(t directory.Traits) []string {
	var names []string
	v := reflect.ValueOf(t)
	for i := range v.NumField() {
		if v.Field(i).String() != "" {
			names = append(names, jsonName(v.Type().Field(i)))
		}
	}
	return names
}

func TestTraitsField(t *testing.T) {
	typ := reflect.TypeFor[directory.Traits]()
	// Every string field of Traits is a trait named by its JSON tag; all but
	// type are in TraitNames, in the order of the struct.
	var fromStruct []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() != reflect.String {
			t.Errorf("Traits.%s is a %s, not a string", f.Name, f.Type)
		}
		if name := jsonName(f); name != "type" {
			fromStruct = append(fromStruct, name)
		}
	}
	if !slices.Equal(directory.TraitNames, fromStruct) {
		t.Errorf("TraitNames = %q\nstruct tags %q", directory.TraitNames, fromStruct)
	}

	for _, name := range append([]string{"type"}, directory.TraitNames...) {
		var tr directory.Traits
		p := tr.Field(name)
		if p == nil {
			t.Errorf("Field(%q) = nil", name)
			continue
		}
		*p = "v-" + name
		// The pointer must be to the field whose JSON tag is name, and only it.
		v := reflect.ValueOf(tr)
		for i := range typ.NumField() {
			got, want := v.Field(i).String(), ""
			if jsonName(typ.Field(i)) == name {
				want = "v-" + name
			}
			if got != want {
				t.Errorf("after *Field(%q) = %q, Traits.%s (json %q) = %q",
					name, "v-"+name, typ.Field(i).Name, jsonName(typ.Field(i)), got)
			}
		}
	}

	var tr directory.Traits
	for _, name := range []string{"", "Username", "USERNAME", "userName", "familyName", "traits.username", "username ", "nope", "id"} {
		if p := tr.Field(name); p != nil {
			t.Errorf("Field(%q) = a pointer, want nil", name)
		}
	}
}

func TestNewTraits(t *testing.T) {
	got, err := directory.NewTraits(map[string]string{"type": directory.TraitsV0, "username": "ann", "given_name": "Ann"})
	want := directory.Traits{Type: directory.TraitsV0, Username: "ann", GivenName: "Ann"}
	if err != nil || got != want {
		t.Errorf("NewTraits = %+v, %v; want %+v", got, err, want)
	}
	got, err = directory.NewTraits(map[string]string{"username": "ann", "nope": "x"})
	if fields := violated(t, err); !slices.Equal(fields, []string{"traits.nope"}) || got != (directory.Traits{}) {
		t.Errorf("NewTraits with an unknown name = %+v, violations %q", got, fields)
	}
}
