// Runs sdk-program.ts - written only against the fetch SDK that
// @hey-api/openapi-ts generates from openapi.yaml - against a real 3-member
// etcd of every version this machine has (the project's 3.5.35 and Debian's
// 3.4.23), through the validating proxy (sdk-proxy.ts, openapi-backend) in
// front of the first member. Then the whole recorded traffic goes through
// the second validator (sdk-traffic.ts, @cfworker/json-schema). Both must
// report 0 violations, and the traffic must cover every operation of the
// spec and every request of x-always-refused. Without an etcd binary the
// test is skipped, not failed.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { etcdVersion, findAllEtcd, freePorts, startCluster } from "./etcd.js";
import { runProgram } from "./sdk-program.js";
import { startProxy } from "./sdk-proxy.js";
import { loadSpec, operationIds, refusedOperationIds } from "./sdk-spec.js";
import { TrafficCheck } from "./sdk-traffic.js";

const bins = findAllEtcd();
const spec = loadSpec();

describe("SDK program behind a validating proxy", { concurrency: true, skip: bins.length ? false : "no etcd binary (set ETCD_BIN or install etcd-server)" }, () => {
  for (const bin of bins) {
    const version = etcdVersion(bin);
    it(`passes every check against etcd ${version}, with 0 violations`, async () => {
      const cluster = await startCluster(bin, 3);
      const proxy = await startProxy(spec, cluster.url);
      try {
        const [newPeer, movedPeer] = (await freePorts(2)).map((p) => `http://127.0.0.1:${p}`);
        await runProgram({ baseUrl: proxy.url, version, newPeerURL: newPeer!, movedPeerURL: movedPeer! });
      } finally {
        await proxy.close();
        await cluster.stop();
      }
      assert.deepEqual(proxy.violations, [], `the proxy reported ${proxy.violations.length} violation(s)`);

      const traffic = new TrafficCheck(spec);
      const second = proxy.exchanges.flatMap((x) => traffic.check(x));
      assert.deepEqual(second, [], `the second validator reported ${second.length} violation(s)`);

      const seen = new Set(proxy.exchanges.map((x) => traffic.operationOf(x)));
      const all = operationIds(spec);
      assert.ok(refusedOperationIds(spec).every((id) => all.includes(id)));
      const missed = all.filter((id) => !seen.has(id));
      assert.deepEqual(missed, [], "operations the program did not drive");
      const streams = proxy.exchanges.filter((x) => x.stream).length;
      assert.ok(streams >= 1, "no streamed watch went through the proxy");
      console.log(`etcd ${version}: ${proxy.exchanges.length} exchanges, ${seen.size} operations, ${streams} stream, 0 violations (proxy and second validator)`);
    });
  }
});
