// The steps of a web app that signs its users in with openid-client or
// oauth4webapi, used as their documentation shows. internal/oidctest runs
// it once per library: each line of standard input is a step's JSON
// input, answered by one line of JSON output ({error} when it failed).
//
// Input: {library, step, issuer, client_id, client_secret, redirect_uri,
// scope, ...the step's fields}. Steps: authorize (prompt) → {url, state,
// nonce, verifier}; callback (callback_url, state, nonce, verifier) →
// tokens; refresh (refresh_token) → tokens; revoke (token); introspect
// (token) → {active}; end_session (id_token_hint, post_logout_redirect_uri,
// state) → {url}. Tokens are {access_token, refresh_token, id_token, sub}.
import * as client from "openid-client";
import * as oauth from "oauth4webapi";
import readline from "node:readline";

let input; // the step under way

const openidClient = {
  async setup() {
    return client.discovery(new URL(input.issuer), input.client_id, undefined, client.ClientSecretBasic(input.client_secret));
  },
  async authorize(config) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const params = {
      redirect_uri: input.redirect_uri, scope: input.scope, state, nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
    };
    if (input.prompt) params.prompt = input.prompt;
    return { url: client.buildAuthorizationUrl(config, params).href, state, nonce, verifier };
  },
  async callback(config) {
    const tokens = await client.authorizationCodeGrant(config, new URL(input.callback_url), {
      pkceCodeVerifier: input.verifier, expectedState: input.state, expectedNonce: input.nonce, idTokenExpected: true,
    });
    return { ...tokens, sub: tokens.claims().sub };
  },
  async refresh(config) {
    const tokens = await client.refreshTokenGrant(config, input.refresh_token);
    return { ...tokens, sub: tokens.claims()?.sub };
  },
  async revoke(config) {
    await client.tokenRevocation(config, input.token);
    return {};
  },
  async introspect(config) {
    const answer = await client.tokenIntrospection(config, input.token);
    return { active: answer.active, sub: answer.sub };
  },
  async end_session(config) {
    return { url: client.buildEndSessionUrl(config, {
      id_token_hint: input.id_token_hint, post_logout_redirect_uri: input.post_logout_redirect_uri, state: input.state,
    }).href };
  },
};

const oauth4webapi = {
  async setup() {
    const issuer = new URL(input.issuer);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer));
    return { as, client: { client_id: input.client_id }, auth: oauth.ClientSecretBasic(input.client_secret) };
  },
  async authorize({ as }) {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const url = new URL(as.authorization_endpoint);
    url.searchParams.set("client_id", input.client_id);
    url.searchParams.set("redirect_uri", input.redirect_uri);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("scope", input.scope);
    url.searchParams.set("state", state);
    url.searchParams.set("nonce", nonce);
    url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
    url.searchParams.set("code_challenge_method", "S256");
    if (input.prompt) url.searchParams.set("prompt", input.prompt);
    return { url: url.href, state, nonce, verifier };
  },
  async callback({ as, client, auth }) {
    const params = oauth.validateAuthResponse(as, client, new URL(input.callback_url), input.state);
    const response = await oauth.authorizationCodeGrantRequest(as, client, auth, params, input.redirect_uri, input.verifier);
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: input.nonce, requireIdToken: true,
    });
    return { ...result, sub: oauth.getValidatedIdTokenClaims(result).sub };
  },
  async refresh({ as, client, auth }) {
    const response = await oauth.refreshTokenGrantRequest(as, client, auth, input.refresh_token);
    const result = await oauth.processRefreshTokenResponse(as, client, response);
    return { ...result, sub: oauth.getValidatedIdTokenClaims(result)?.sub };
  },
  async revoke({ as, client, auth }) {
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, input.token));
    return {};
  },
  async introspect({ as, client, auth }) {
    const answer = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, input.token));
    return { active: answer.active, sub: answer.sub };
  },
  async end_session({ as }) {
    const url = new URL(as.end_session_endpoint);
    url.searchParams.set("id_token_hint", input.id_token_hint);
    url.searchParams.set("post_logout_redirect_uri", input.post_logout_redirect_uri);
    url.searchParams.set("state", input.state);
    return { url: url.href };
  },
};

const libraries = { "openid-client": openidClient, oauth4webapi };
for await (const line of readline.createInterface({ input: process.stdin })) {
  input = JSON.parse(line);
  const library = libraries[input.library];
  let out;
  try {
    out = await library[input.step](await library.setup());
  } catch (err) {
    out = { error: `${err.name}: ${err.message}${err.code ? ` (${err.code})` : ""}${err.cause?.message ? `: ${err.cause.message}` : ""}${err.error ? `: ${err.error} ${err.error_description}` : ""}` };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
