// A web app that signs its users in with @node-saml/node-saml (the library
// behind passport-saml), used as its documentation shows. internal/httpapi's
// SAML test runs it against a Latchkey node: it listens on localhost and
// prints {"url"}; then it reads one line of JSON, the SAML options
// (entryPoint, logoutUrl, idpCert, privateKey, decryptionPvk, ...), and
// prints {"ready":true}.
//
// Pages: /login starts an SP-initiated sign-in (HTTP-Redirect, signed);
// /acs takes the Response (SP- or IdP-initiated) and says
// <p id=hello>hello NameID email</p>; /logout starts Single Logout; /slo
// takes the LogoutResponse and says <p id=home>; errors say <p id=error>.
import { SAML } from "@node-saml/node-saml";
import http from "node:http";
import readline from "node:readline";

let saml;
let profile; // of the last sign-in

function page(res, status, id, text) {
  res.writeHead(status, { "Content-Type": "text/html; charset=utf-8" });
  res.end(`<html><body><p id="${id}">${text.replace(/[<&]/g, (c) => (c === "<" ? "&lt;" : "&amp;"))}</p></body></html>`);
}

async function body(req) {
  let data = "";
  for await (const chunk of req) data += chunk;
  return Object.fromEntries(new URLSearchParams(data));
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://localhost");
  try {
    if (url.pathname === "/login") {
      res.writeHead(302, { Location: await saml.getAuthorizeUrlAsync("relay-1", undefined, {}) });
      res.end();
    } else if (url.pathname === "/acs" && req.method === "POST") {
      const result = await saml.validatePostResponseAsync(await body(req));
      profile = result.profile;
      page(res, 200, "hello", `hello ${profile.nameID} ${profile.email}`);
    } else if (url.pathname === "/logout") {
      res.writeHead(302, { Location: await saml.getLogoutUrlAsync(profile, "bye", {}) });
      res.end();
    } else if (url.pathname === "/slo") {
      const result = await saml.validateRedirectAsync(Object.fromEntries(url.searchParams), url.search.slice(1));
      page(res, 200, "home", result.loggedOut ? "logged out" : "not logged out");
    } else {
      page(res, 404, "error", "not found");
    }
  } catch (err) {
    page(res, 500, "error", String(err && err.message ? err.message : err));
  }
});

server.listen(0, "localhost", () => {
  const url = `http://localhost:${server.address().port}`;
  process.stdout.write(JSON.stringify({ url }) + "\n");
  const rl = readline.createInterface({ input: process.stdin });
  rl.once("line", (line) => {
    const o = JSON.parse(line);
    saml = new SAML({
      callbackUrl: url + "/acs", issuer: url + "/metadata", audience: url + "/metadata",
      entryPoint: o.entryPoint, logoutUrl: o.logoutUrl, logoutCallbackUrl: url + "/slo",
      idpCert: o.idpCert, idpIssuer: o.idpIssuer, privateKey: o.privateKey, decryptionPvk: o.decryptionPvk,
      signatureAlgorithm: "sha256", digestAlgorithm: "sha256",
      wantAssertionsSigned: true, wantAuthnResponseSigned: true,
      identifierFormat: null, disableRequestedAuthnContext: true,
    });
    process.stdout.write(JSON.stringify({ ready: true }) + "\n");
  });
  rl.on("close", () => process.exit(0));
});
