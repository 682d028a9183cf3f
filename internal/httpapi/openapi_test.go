package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/latchkey/latchkey/internal/testenv"
)

// Validation against the official spec (testdata/bi-v1-openapi.yaml) with
// kin-openapi: a request is checked before it is sent, its answer after.
// The spec's known defects are corrected in patchSpec, each one as README's
// "Where Latchkey departs from the spec" tells it.

var (
	specOnce sync.Once
	specDoc  *openapi3.T
	specErr  error
)

// loadSpec returns the patched spec, loaded once.
func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		specDoc, specErr = loader.LoadFromFile("testdata/bi-v1-openapi.yaml")
		if specErr == nil {
			patchSpec(specDoc)
		}
	})
	if specErr != nil {
		t.Fatal(specErr)
	}
	return specDoc
}

var pathParam = regexp.MustCompile(`\{(\w+)\}`)

// patchSpec corrects the spec's defects that no server could satisfy.
func patchSpec(doc *openapi3.T) {
	for path, item := range doc.Paths.Map() {
		inPath := map[string]bool{}
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			inPath[m[1]] = true
		}
		for _, op := range item.Operations() {
			// 1. Phantom path parameters: operations declare path
			// parameters their path does not have (sso_config_id on
			// …/identity-providers, …/identities/{id}/sso-configs,
			// …/groups/{id}/sso-configs).
			params := op.Parameters[:0]
			for _, p := range op.Parameters {
				if p.Value.In != openapi3.ParameterInPath || inPath[p.Value.Name] {
					params = append(params, p)
				}
			}
			op.Parameters = params
		}
	}
	schemas := doc.Components.Schemas
	ssoPayload := func(op *openapi3.Operation) *openapi3.Schema {
		return op.Responses.Status(200).Value.Content.Get("application/json").Schema.Value.Properties["payload"].Value
	}
	configs := doc.Paths.Value("/v1/tenants/{tenant_id}/realms/{realm_id}/sso-configs")
	payload := ssoPayload(configs.Post)
	variant := func(i int) *openapi3.Schema { return payload.OneOf[i].Value }
	// 2. The answer's payload variants overlap (the SAML one requires
	// only what others have too), so no payload matches exactly one: the
	// payload's type chooses its variant.
	names := []string{"bookmark", "entra_id_external_auth_methods", "generic_oidc", "generic_oidc_idp", "generic_saml",
		"okta_idp", "okta_sso_bi_idp", "company_identifier", "scim", "ws_fed"}
	mapping := map[string]openapi3.MappingRef{}
	for i, name := range names {
		key := "LatchkeySsoAnswer_" + name
		schemas[key] = openapi3.NewSchemaRef("", variant(i))
		mapping[name] = openapi3.MappingRef{Ref: "#/components/schemas/" + key}
		payload.OneOf[i] = openapi3.NewSchemaRef("#/components/schemas/"+key, variant(i))
	}
	payload.Discriminator = &openapi3.Discriminator{PropertyName: "type", Mapping: mapping}
	// 3. The ws_fed answer's type is typed as the scim object, and it
	// requires the SAML variant's fields: its own are those of the
	// request's SsoConfigWsFed.
	ws := variant(9)
	ws.Properties["type"] = schemas["SsoConfigType"]
	ws.Required = schemas["SsoConfigWsFed"].Value.Required
	// 4. Secrets are answered only where the caller may read them:
	// client_secret of an okta_sso_bi_idp answer is not required.
	drop(variant(6), "client_secret")
	// 5. What the SAML engine fills in (application_id,
	// authenticator_config_id, idp_initiated_url, sp_initiated_url) is not
	// there until it serves the config.
	drop(variant(4), "application_id", "authenticator_config_id", "idp_initiated_url", "sp_initiated_url")
	// 6. The SAML answer's additional_user_attributes is an array of
	// arrays (its items are the request's whole array): one array of
	// attributes, as requests send.
	// So are its sp_signature_certificates.
	for _, field := range []string{"additional_user_attributes", "sp_signature_certificates"} {
		v := variant(4).Properties[field].Value
		v.Items = v.Items.Value.Items
	}
	// 7. A partial update's payload variants all require only the type, so
	// every update matches more than one: the type chooses, as for
	// answers, among the partial variants (the spec gives okta_sso_bi_idp
	// and ws_fed their full schemas there; their partial ones stand in).
	partial := schemas["SsoConfigPartialUpdatePayload"].Value
	partialNames := map[string]string{"bookmark": "SsoConfigBookmarkPartialUpdate", "entra_id_external_auth_methods": "SsoConfigEntraIdAuthMethodPartial",
		"generic_oidc": "SsoConfigGenericOidcPartialUpdate", "generic_oidc_idp": "SsoConfigGenericOidcIdpPartialUpdate",
		"generic_saml": "SsoConfigSamlPartialUpdate", "saml": "SsoConfigSamlPartialUpdate", "okta_sso_bi_idp": "SsoConfigOktaBiIdpPartialUpdate",
		"ws_fed": "SsoConfigWsFedPartialUpdate", "company_identifier": "SsoConfigRealityCheckPartialUpdate"}
	schemas["LatchkeySsoPartial_okta_idp"] = partial.OneOf[5]
	partialMapping := map[string]openapi3.MappingRef{"okta_idp": {Ref: "#/components/schemas/LatchkeySsoPartial_okta_idp"}}
	partial.OneOf = openapi3.SchemaRefs{schemas["LatchkeySsoPartial_okta_idp"]}
	for typ, name := range partialNames {
		partialMapping[typ] = openapi3.MappingRef{Ref: "#/components/schemas/" + name}
		partial.OneOf = append(partial.OneOf, openapi3.NewSchemaRef("#/components/schemas/"+name, schemas[name].Value))
	}
	partial.Discriminator = &openapi3.Discriminator{PropertyName: "type", Mapping: partialMapping}
	// So do the create's: a generic_oidc payload with a login_link is a
	// bookmark too.
	create := schemas["SsoConfigPayload"].Value
	schemas["LatchkeySso_saml"], schemas["LatchkeySso_okta_idp"] = create.OneOf[4], create.OneOf[5]
	createMapping := map[string]openapi3.MappingRef{}
	for typ, name := range map[string]string{"bookmark": "SsoConfigBookmark", "entra_id_external_auth_methods": "SsoConfigEntraIdExternalAuthMethod",
		"generic_oidc": "SsoConfigGenericOidc", "generic_oidc_idp": "SsoConfigOidcIdp", "saml": "LatchkeySso_saml", "generic_saml": "LatchkeySso_saml",
		"okta_idp": "LatchkeySso_okta_idp", "okta_sso_bi_idp": "SsoConfigOktaBiIdp", "ws_fed": "SsoConfigWsFed"} {
		createMapping[typ] = openapi3.MappingRef{Ref: "#/components/schemas/" + name}
	}
	for i, ref := range create.OneOf {
		if ref.Ref == "" {
			create.OneOf[i] = openapi3.NewSchemaRef(map[int]string{4: "#/components/schemas/LatchkeySso_saml", 5: "#/components/schemas/LatchkeySso_okta_idp"}[i], ref.Value)
		}
	}
	create.Discriminator = &openapi3.Discriminator{PropertyName: "type", Mapping: createMapping}
	// The lists and the association lists share the answer's variants.
	list := configs.Get.Responses.Status(200).Value.Content.Get("application/json").Schema.Value
	list.Properties["sso_configs"].Value.Items.Value.Properties["payload"] = openapi3.NewSchemaRef("", payload)
	// 8. Identity providers: create answers the identity provider (its
	// protocol config only, in the spec), like GET and PATCH.
	idps := doc.Paths.Value("/v1/tenants/{tenant_id}/realms/{realm_id}/identity-providers")
	idps.Post.Responses.Status(200).Value.Content.Get("application/json").Schema = schemas["IdentityProviderResponse"]
	// 9. The answer of identities/{id}/sso-configs is described as
	// sso_configs and total_size, but its schema is the identities of
	// :listIdentityAssociations (whose answer it is, by reference): it gets
	// the schema of groups/{id}/sso-configs, the same list.
	ofIdentity := doc.Paths.Value("/v1/tenants/{tenant_id}/realms/{realm_id}/identities/{identity_id}/sso-configs")
	ofGroup := doc.Paths.Value("/v1/tenants/{tenant_id}/realms/{realm_id}/groups/{group_id}/sso-configs")
	ofIdentity.Get.Responses.Status(200).Value.Content.Get("application/json").Schema =
		ofGroup.Get.Responses.Status(200).Value.Content.Get("application/json").Schema
	ofGroup.Get.Responses.Status(200).Value.Content.Get("application/json").Schema.Value.Properties["sso_configs"].Value.Items.Value.Properties["payload"] =
		openapi3.NewSchemaRef("", payload)
	// 10. The launch mechanisms' security scheme, DirectoryAuth, is not
	// declared: it is the bearer token of every other operation.
	doc.Components.SecuritySchemes["DirectoryAuth"] = doc.Components.SecuritySchemes["BearerAuth"]
}

func drop(s *openapi3.Schema, fields ...string) {
	s.Required = slicesDelete(s.Required, fields)
}

func slicesDelete(in, drop []string) []string {
	var out []string
	for _, f := range in {
		if !strings.Contains(","+strings.Join(drop, ",")+",", ","+f+",") {
			out = append(out, f)
		}
	}
	return out
}

// specClient is a client whose requests and answers are validated against the spec.
type specClient struct {
	client
	router routers.Router
}

func newSpecClient(t testing.TB, c client) specClient {
	t.Helper()
	doc := *loadSpec(t) // a copy: each node has its own server URL
	doc.Servers = openapi3.Servers{{URL: c.base}}
	router, err := gorillamux.NewRouter(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return specClient{client: c, router: router}
}

// do sends a request after validating it, and validates the answer against
// the operation's answer of its status.
func (c specClient) do(t testing.TB, method, path string, body any) testenv.Response {
	t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, c.url(path), bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("x-correlation_id", "test-"+strings.ToLower(method))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: no operation of the spec: %v", method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		// The spec's "default: null" would fill required fields of other
		// payload variants in: defaults are not set.
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true, SkipSettingDefaults: true}}
	ctx := context.Background()
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		t.Errorf("%s %s: the request breaks the spec: %v", method, path, err)
	}
	req.Body = io.NopCloser(bytes.NewReader(raw))
	resp := send(t, method, req.URL.String(), req.Header, bytes.NewReader(raw))
	if got := resp.Header.Get("X-Correlation-Id"); got != "test-"+strings.ToLower(method) {
		t.Errorf("%s %s: x-correlation-id %q, not the request's", method, path, got)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.Status, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(resp.Body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("%s %s: the answer %d breaks the spec: %v\n%s", method, path, resp.Status, err, resp.Body)
	}
	return resp
}

// ok is do that wants a 200 and returns the JSON answer (nil for an empty one).
func (c specClient) ok(t testing.TB, method, path string, body any) map[string]any {
	t.Helper()
	resp := c.do(t, method, path, body)
	if resp.Status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, resp.Status, resp.Body)
	}
	if len(resp.Body) == 0 {
		return nil
	}
	return resp.JSON(t)
}
