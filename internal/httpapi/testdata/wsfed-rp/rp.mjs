// A web app that signs its users in with passport-wsfed-saml2 (auth0's
// WS-Federation strategy for Passport), its strategy driven as Passport
// drives it. internal/httpapi's WS-Federation test runs it against a
// Latchkey node: it listens on localhost and prints {"url"}; then it reads
// one line of JSON, the strategy's options (identityProviderUrl, realm,
// cert), and prints {"ready":true}.
//
// Pages: /login starts a sign-in (wsignin1.0, with a wctx this app made
// and checks once); /wsfed takes the token (wresult) and says
// <p id=hello>hello nameidentifier upn groups</p>, or, by GET (the
// sign-out's wreply), <p id=home>; failures say <p id=error>.
import http from "node:http";
import readline from "node:readline";
import crypto from "node:crypto";
import wsfed from "passport-wsfed-saml2";

let strategy;
const contexts = new Set(); // the wctx values sent and not yet used

// store is the strategy's state store: wctx must come back, once.
const store = {
  store(req, cb) {
    const state = crypto.randomBytes(12).toString("hex");
    contexts.add(state);
    cb(null, state);
  },
  verify(req, state, cb) {
    const ok = contexts.delete(state);
    cb(null, ok, ok ? state : "wctx is not one this app sent, or was used");
  },
};

function page(res, status, id, text) {
  res.writeHead(status, { "Content-Type": "text/html; charset=utf-8" });
  res.end(`<html><body><p id="${id}">${text.replace(/[<&]/g, (c) => (c === "<" ? "&lt;" : "&amp;"))}</p></body></html>`);
}

async function body(req) {
  let data = "";
  for await (const chunk of req) data += chunk;
  return Object.fromEntries(new URLSearchParams(data));
}

// authenticate runs the strategy on a request as Passport does: its
// success, fail, redirect and error end the response.
function authenticate(req, res) {
  const s = Object.create(strategy);
  s.success = (user) => {
    const claims = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/";
    // A claim without a namespace is "groups" in SAML 2.0 tokens, and
    // "<its name format's URI>/groups" in SAML 1.1 ones.
    const groupsClaim = Object.keys(user).find((k) => k === "groups" || k.endsWith("/groups"));
    const groups = [].concat(user[groupsClaim] || []).join(",");
    page(res, 200, "hello", `hello ${user[claims + "nameidentifier"]} ${user[claims + "upn"]} ${groups}`);
  };
  s.fail = (challenge, status) => page(res, status || 401, "error", String(challenge && challenge.message ? challenge.message : challenge));
  s.error = (err) => page(res, 500, "error", String(err && err.message ? err.message : err));
  s.redirect = (url) => {
    res.writeHead(302, { Location: url });
    res.end();
  };
  s.authenticate(req, {});
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://localhost");
  try {
    if (url.pathname === "/login") {
      authenticate(req, res);
    } else if (url.pathname === "/wsfed" && req.method === "POST") {
      req.body = await body(req);
      authenticate(req, res);
    } else if (url.pathname === "/wsfed") {
      page(res, 200, "home", "signed out");
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
    strategy = new wsfed.Strategy(
      { identityProviderUrl: o.identityProviderUrl, realm: o.realm, cert: o.cert, recipientUrl: url + "/wsfed", store },
      (profile, done) => done(null, profile),
    );
    process.stdout.write(JSON.stringify({ ready: true }) + "\n");
  });
  rl.on("close", () => process.exit(0));
});
