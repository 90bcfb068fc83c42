// Runs program.ts - written only against the types generated from
// openapi.yaml - against a real etcd that this test starts on free loopback
// ports and stops at the end: set, get, watch once, members, auth. The etcd
// binary is found by etcd.ts (ETCD_BIN, the project's cached 3.5.35 build,
// or Debian's 3.4); without one the test is skipped, not failed.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { etcdVersion, findEtcd, startCluster, sleep, type Cluster } from "./etcd.js";
import {
  V2Client,
  addMemberRequest,
  absoluteKey,
  createRoleRequest,
  createUserRequest,
  describeEvent,
  grantRolesRequest,
  key,
  keyErrorText,
  memberSummary,
  permissionsOf,
  rolesOfUser,
  type KeyEvent,
} from "./program.js";

const bin = findEtcd();

describe(`program.ts against a real etcd ${bin ? etcdVersion(bin) : ""}`, { skip: bin ? false : "no etcd binary (set ETCD_BIN or install etcd-server)" }, () => {
  let cluster: Cluster;
  let etcd: V2Client;

  before(async () => {
    cluster = await startCluster(bin!, 1);
    etcd = new V2Client(cluster.url);
  });
  after(async () => {
    await cluster?.stop();
  });

  it("sets and gets typed keys", async () => {
    const k = key("spec", "jobs", "42");
    const created = await etcd.setKey(k, { value: "pending", ttl: 60 });
    assert.ok(created.ok, JSON.stringify(created));
    assert.equal(created.status, 201);
    assert.equal(created.body.action, "set");
    assert.equal(created.body.node?.key, absoluteKey(k));
    assert.equal(created.body.node?.ttl, 60);
    assert.equal(created.etcdIndex, created.body.node?.modifiedIndex);

    const cas = await etcd.setKey(k, { value: "running", prevValue: "pending" });
    assert.ok(cas.ok, JSON.stringify(cas));
    assert.equal(cas.status, 200);
    assert.equal(cas.body.action, "compareAndSwap");
    assert.equal(cas.body.prevNode?.value, "pending");
    assert.equal(cas.body.node?.createdIndex, created.body.node?.createdIndex);

    const got = await etcd.getKey(key("spec"), { recursive: true, sorted: true });
    assert.ok(got.ok, JSON.stringify(got));
    const jobs = got.body.node?.nodes?.[0];
    assert.equal(jobs?.key, "/spec/jobs");
    assert.equal(jobs?.dir, true);
    assert.equal(jobs?.nodes?.[0]?.value, "running");
    assert.match(describeEvent(got.body), /^get dir \/spec/);

    const missing = await etcd.getKey(key("spec", "nope"));
    assert.ok(!missing.ok);
    assert.equal(missing.status, 404);
    assert.equal(missing.error.errorCode, 100);
    assert.match(keyErrorText(missing.error), /Key not found/);

    const exists = await etcd.setKey(k, { value: "again", prevExist: false });
    assert.ok(!exists.ok);
    assert.equal(exists.status, 412);
    assert.equal(exists.error.errorCode, 105);
  });

  it("watches once", async () => {
    const k = key("spec", "watched");
    const first = await etcd.setKey(k, { value: "v1" });
    assert.ok(first.ok);
    const from = (first.body.node?.modifiedIndex ?? 0) + 1;
    const watch = etcd.watchOnce(k, from, AbortSignal.timeout(10_000));
    await sleep(100);
    const second = await etcd.setKey(k, { value: "v2" });
    assert.ok(second.ok);
    const ev: KeyEvent | undefined = await watch;
    assert.ok(ev, "watch ended without an event");
    assert.equal(ev.action, "set");
    assert.equal(ev.node?.value, "v2");
    assert.equal(ev.prevNode?.value, "v1");
    assert.equal(ev.node?.modifiedIndex, second.body.node?.modifiedIndex);

    const del = await etcd.deleteKey(key("spec"), { recursive: true });
    assert.ok(del.ok, JSON.stringify(del));
    assert.equal(del.body.action, "delete");
  });

  it("reads typed members and the leader", async () => {
    const list = await etcd.listMembers();
    assert.ok(list.ok);
    assert.equal(list.body.members.length, 1);
    const m = list.body.members[0]!;
    assert.match(m.id, /^[0-9a-f]+$/);
    assert.deepEqual(m.clientURLs, [cluster.url]);
    const leader = await etcd.getLeader();
    assert.ok(leader.ok);
    assert.equal(leader.body.id, m.id);
    assert.match(memberSummary(leader.body), /^[0-9a-f]+ m1 /);
    // An invalid add is refused before it could cost the 1-member cluster its quorum.
    const bad = await etcd.addMember(addMemberRequest(["ftp://127.0.0.1:1"]));
    assert.ok(!bad.ok);
    assert.equal(bad.status, 400);
    assert.match(bad.error.message, /URL scheme must be http, https, unix, or unixs/);
  });

  it("manages roles and users, and enables auth", async () => {
    const status = await etcd.getAuthStatus();
    assert.ok(status.ok);
    assert.equal(status.body.enabled, false);

    const role = await etcd.setRole(createRoleRequest("spec-readers", ["/spec/*"], []));
    assert.ok(role.ok, JSON.stringify(role));
    assert.equal(role.status, 201);
    assert.deepEqual(permissionsOf(role.body).read, ["/spec/*"]);

    const alice = await etcd.setUser(createUserRequest("alice", "alice-pw"));
    assert.ok(alice.ok);
    assert.equal(alice.status, 201);
    assert.equal(alice.body.roles, null);
    const granted = await etcd.setUser(grantRolesRequest("alice", ["spec-readers"]));
    assert.ok(granted.ok);
    assert.deepEqual(granted.body.roles, ["spec-readers"]);
    const read = await etcd.getUser("alice");
    assert.ok(read.ok);
    assert.deepEqual(rolesOfUser(read.body), ["spec-readers"]);

    const root = await etcd.setUser(createUserRequest("root", "root-pw"));
    assert.ok(root.ok);
    assert.deepEqual(root.body.roles, ["root"]);
    const on = await etcd.setAuth(true);
    assert.ok(on.ok, JSON.stringify(on));
    const asRoot = etcd.as({ user: "root", password: "root-pw" });
    try {
      const anon = await etcd.listUsers();
      assert.ok(!anon.ok);
      assert.equal(anon.status, 401);
      assert.equal(anon.error.message, "Insufficient credentials");
      const users = await asRoot.listUsers();
      assert.ok(users.ok);
      assert.deepEqual(users.body.users?.map((u) => u.user), ["alice", "root"]);
      const enabled = await etcd.getAuthStatus();
      assert.ok(enabled.ok && enabled.body.enabled);
    } finally {
      const off = await asRoot.setAuth(false);
      assert.ok(off.ok, JSON.stringify(off));
    }
    assert.ok((await etcd.deleteUser("alice")).ok);
    assert.ok((await etcd.deleteRole("spec-readers")).ok);
  });
});
