// The two validators of sdk.test.ts must be able to fail: each case sends
// one request through the proxy to a fake upstream that answers what a real
// etcd never would (or sends a request the spec does not allow), and the
// proxy and/or the second validator must report it. A correct exchange of
// each kind must pass both. No etcd is needed.

import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";

import { startProxy, type Proxy } from "./sdk-proxy.js";
import { loadSpec } from "./sdk-spec.js";
import { TrafficCheck } from "./sdk-traffic.js";

interface Case {
  name: string;
  method: string;
  path: string;
  form?: string;
  /** What the fake upstream answers. */
  status: number;
  contentType?: string;
  headers?: Record<string, string>;
  /** Body, or for a stream the lines it sends. */
  body: string;
  stream?: boolean;
  /** Which validators must report it, with a word of their report. */
  proxy?: string;
  traffic?: string;
}

const keyHeaders = { "X-Etcd-Index": "7", "X-Etcd-Cluster-Id": "cdf818194e3a8c32", "X-Raft-Index": "9", "X-Raft-Term": "2" };
const event = '{"action":"set","node":{"key":"/a","value":"v","modifiedIndex":7,"createdIndex":7}}\n';

const cases: Case[] = [
  // Correct answers: both validators stay quiet.
  { name: "a read", method: "GET", path: "/v2/keys/a", status: 200, contentType: "application/json", headers: keyHeaders, body: event },
  { name: "a key with %2F", method: "GET", path: "/v2/keys/dir%2Fa%20b%23", status: 200, contentType: "application/json", headers: keyHeaders, body: event },
  { name: "/health as text", method: "GET", path: "/health", status: 200, contentType: "text/plain; charset=utf-8", body: '{"health":"true","reason":""}' },
  { name: "enable auth, no body", method: "PUT", path: "/v2/auth/enable", status: 200, contentType: "application/json", headers: { "Content-Length": "0" }, body: "" },
  { name: "a stream", method: "GET", path: "/v2/keys/a?wait=true&stream=true", status: 200, contentType: "application/json", headers: keyHeaders, body: event + event, stream: true },
  { name: "a refused root PUT", method: "PUT", path: "/v2/keys", form: "value=x", status: 400, contentType: "application/json", headers: { "X-Etcd-Index": "7" }, body: '{"errorCode":107,"message":"Root is read only","cause":"/","index":7}\n' },
  // Wrong answers.
  { name: "/health that is not the Health text", method: "GET", path: "/health", status: 200, contentType: "text/plain", body: "healthy", proxy: "pattern", traffic: "pattern" },
  { name: "/health labelled JSON", method: "GET", path: "/health", status: 200, contentType: "application/json", body: '{"health":"true"}', proxy: "Content-Type", traffic: "Content-Type" },
  { name: "a body where none is declared", method: "PUT", path: "/v2/auth/enable", status: 200, contentType: "application/json", body: "{}", proxy: "declares none", traffic: "declares none" },
  { name: "an action etcd does not have", method: "GET", path: "/v2/keys/a", status: 200, contentType: "application/json", headers: keyHeaders, body: '{"action":"bogus"}', proxy: "enum", traffic: "action" },
  { name: "a bad streamed event", method: "GET", path: "/v2/keys/a?wait=true&stream=true", status: 200, contentType: "application/json", headers: keyHeaders, body: event + '{"node":{}}\n', stream: true, proxy: "action", traffic: "action" },
  { name: "an undeclared status", method: "GET", path: "/v2/keys/a", status: 418, contentType: "application/json", body: "{}", proxy: "418", traffic: "418" },
  { name: "a header that is not a number", method: "GET", path: "/v2/keys/a", status: 200, contentType: "application/json", headers: { ...keyHeaders, "X-Etcd-Index": "abc" }, body: event, proxy: "x-etcd-index", traffic: "X-Etcd-Index" },
  { name: "an error without errorCode", method: "GET", path: "/v2/keys/a", status: 404, contentType: "application/json", headers: { "X-Etcd-Index": "7" }, body: '{"message":"Key not found"}', proxy: "errorCode", traffic: "errorCode" },
  // Wrong requests.
  { name: "a raw slash in {key}", method: "GET", path: "/v2/keys/a/b", status: 200, contentType: "application/json", headers: keyHeaders, body: event, proxy: "no operation", traffic: "no operation" },
  { name: "a form field that is not a number", method: "PUT", path: "/v2/keys/a", form: "value=v&ttl=soon", status: 400, contentType: "application/json", headers: { "X-Etcd-Index": "0" }, body: '{"errorCode":202,"message":"The given TTL in POST form is not a number","index":0}', proxy: "ttl", traffic: "ttl" },
  { name: "a write field in the query", method: "PUT", path: "/v2/keys/a?prevExist=true", form: "value=v", status: 200, contentType: "application/json", headers: keyHeaders, body: event, proxy: "prevExist", traffic: "prevExist" },
];

describe("the validators of the SDK test can fail", () => {
  let upstream: ReturnType<typeof createServer>;
  let proxy: Proxy;
  let current: Case | undefined;
  const spec = loadSpec();
  const traffic = new TrafficCheck(spec);

  before(async () => {
    upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on("end", () => {
        const c = current!;
        const headers: Record<string, string> = { ...(c.contentType ? { "Content-Type": c.contentType } : {}), ...(c.headers ?? {}) };
        res.writeHead(c.status, headers);
        res.end(req.method === "HEAD" ? undefined : c.body);
      });
    });
    await new Promise<void>((ok) => upstream.listen(0, "127.0.0.1", ok));
    proxy = await startProxy(spec, `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
  });
  after(async () => {
    await proxy.close();
    await new Promise<void>((ok) => upstream.close(() => ok()));
  });

  for (const c of cases) {
    it(c.proxy || c.traffic ? `reports ${c.name}` : `passes ${c.name}`, async () => {
      current = c;
      const before = { v: proxy.violations.length, x: proxy.exchanges.length };
      const r = await fetch(proxy.url + c.path, {
        method: c.method,
        ...(c.form !== undefined ? { body: c.form, headers: { "Content-Type": "application/x-www-form-urlencoded" } } : {}),
      });
      await r.text();
      // The proxy validates the body once it has passed through.
      for (let i = 0; i < 50 && proxy.exchanges.length === before.x; i++) await new Promise((ok) => setTimeout(ok, 10));
      await new Promise((ok) => setTimeout(ok, 20));
      const fromProxy = proxy.violations.slice(before.v).join("\n");
      const fromTraffic = proxy.exchanges.slice(before.x).flatMap((x) => traffic.check(x)).join("\n");
      if (c.proxy) assert.match(fromProxy, new RegExp(c.proxy), `proxy reports: ${fromProxy || "nothing"}`);
      else assert.equal(fromProxy, "", "the proxy reports a correct exchange");
      if (c.traffic) assert.match(fromTraffic, new RegExp(c.traffic), `second validator reports: ${fromTraffic || "nothing"}`);
      else assert.equal(fromTraffic, "", "the second validator reports a correct exchange");
    });
  }
});
