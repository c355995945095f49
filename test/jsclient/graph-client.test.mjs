// @microsoft/microsoft-graph-client against connops dev over HTTPS.
//
// The client is used as a Graph app uses it, with two settings changed:
// baseUrl (where Graph is) and customHosts (the client's list of non-Microsoft
// hosts it may send the token to; it sends it to Graph's own https hosts
// only). The certificate is trusted through NODE_EXTRA_CA_CERTS, which Node
// reads at start, so whoever starts connops dev sets it when spawning node:
//
//   CONNOPS_URL     https base URL from the ready line (https=...)
//   CONNOPS_TOKEN   token from the ready line (token=...), tenant's ReadWrite.All
//   NODE_EXTRA_CA_CERTS  CA file from the ready line (ca=...)
//
// cmd/connops TestJSGraphClient does all of that; see README.md here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, ResponseType } from "@microsoft/microsoft-graph-client";

const baseUrl = process.env.CONNOPS_URL;
const token = process.env.CONNOPS_TOKEN;
const skip = !baseUrl || !token ? "set CONNOPS_URL and CONNOPS_TOKEN from connops dev's ready line" : false;

// The client's AuthenticationProvider contract: getAccessToken resolves to
// a bearer token. A real app asks MSAL or Azure Identity; a test asks
// connops dev.
class DevTokenProvider {
  async getAccessToken() {
    return token;
  }
}

function newClient() {
  return Client.initWithMiddleware({
    authProvider: new DevTokenProvider(),
    baseUrl,
    customHosts: new Set([new URL(baseUrl).hostname]),
  });
}

const schema = {
  baseType: "microsoft.graph.externalItem",
  properties: [
    { name: "title", type: "String", isSearchable: true, isRetrievable: true, labels: ["title"] },
    { name: "modified", type: "DateTime", isQueryable: true, isRetrievable: true, labels: ["lastModifiedDateTime"] },
  ],
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test("connection, schema registration and paged operations over HTTPS", { skip }, async (t) => {
  assert.match(baseUrl, /^https:\/\//, "CONNOPS_URL must be the https listener");
  const client = newClient();
  const id = "jsclient";

  await t.test("create a connection", async () => {
    const conn = await client.api("/external/connections").post({ id, name: "JS client" });
    assert.equal(conn.id, id);
    assert.equal(conn.state, "draft");
  });

  let registration;
  await t.test("register a schema and wait for its operation", async () => {
    // RAW: the 202 has no body; the operation to poll is in Location.
    const res = await client.api(`/external/connections/${id}/schema`).responseType(ResponseType.RAW).patch(schema);
    assert.equal(res.status, 202);
    const location = res.headers.get("Location");
    assert.ok(location?.startsWith(`${baseUrl}/v1.0/`), `Location ${location} is not under ${baseUrl}`);
    registration = location.split("/").pop();
    // The client follows the absolute https Location with its token.
    let op;
    const deadline = Date.now() + 20_000;
    for (;;) {
      op = await client.api(location).get();
      if (op.status !== "inprogress") break;
      assert.ok(Date.now() < deadline, "registration still in progress after 20s");
      await sleep(100);
    }
    assert.equal(op.status, "completed");
    const conn = await client.api(`/external/connections/${id}`).get();
    assert.equal(conn.state, "ready");
    const registered = await client.api(`/external/connections/${id}/schema`).get();
    assert.deepEqual(registered.properties.map((p) => p.name), ["title", "modified"]);
  });

  await t.test("page operations with .skipToken()", async () => {
    const created = [];
    for (let i = 0; i < 5; i++) {
      const op = await client.api(`/external/connections/${id}/operations`).post({ status: "inprogress" });
      created.push(op.id);
    }
    const seen = [];
    let skipToken;
    let pages = 0;
    for (;;) {
      let request = client.api(`/external/connections/${id}/operations`).top(2);
      if (skipToken) request = request.skipToken(skipToken);
      const page = await request.get();
      pages++;
      assert.ok(page.value.length <= 2, `a page of ${page.value.length} with $top=2`);
      seen.push(...page.value.map((op) => op.id));
      const next = page["@odata.nextLink"];
      if (!next) break;
      assert.ok(next.startsWith(`${baseUrl}/v1.0/`), `@odata.nextLink ${next} is not under ${baseUrl}`);
      skipToken = new URL(next).searchParams.get("$skiptoken");
      assert.ok(skipToken, `no $skiptoken in ${next}`);
      assert.ok(pages < 10, "more pages than operations");
    }
    assert.equal(new Set(seen).size, seen.length, `an operation came twice: ${seen}`);
    assert.deepEqual([...seen].sort(), [...created, registration].sort());
    assert.equal(pages, 3);
  });
});
