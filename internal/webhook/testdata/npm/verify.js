// verify.js SECRET: reads a delivery as JSON {"headers":{…},"body":"…"} on
// stdin and prints the payload that the official Standard Webhooks library
// verified, or exits 1 with its error.
const { Webhook } = require("standardwebhooks");
let input = "";
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  const d = JSON.parse(input);
  try {
    const wh = new Webhook(process.argv[2].replace(/^whsec_/, ""));
    console.log(JSON.stringify(wh.verify(d.body, d.headers)));
  } catch (e) {
    console.error(String(e));
    process.exit(1);
  }
});
