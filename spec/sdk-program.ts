// What a team in another language does with openapi.yaml, here in
// TypeScript: generate a fetch SDK with @hey-api/openapi-ts (sdk/, one
// function per operation) and drive every operation of the spec with it,
// against a real etcd - keys with `/`, space, `#`, `?`, `%`, `+` and
// non-ASCII characters, a long-poll watch continued by X-Etcd-Index and
// modifiedIndex, a streamed watch, /health, auth and members. Only the
// three requests etcd always refuses (x-always-refused) have no SDK
// function; they are sent with fetch, to show what the server answers.
// sdk.test.ts runs it behind the validating proxy (sdk-proxy.ts).

import assert from "node:assert/strict";

import { createClient, type Client } from "./sdk/client/index.js";
import * as sdk from "./sdk/sdk.gen.js";
import type { KeyEvent, Node } from "./sdk/types.gen.js";

export interface ProgramOptions {
  /** Base URL the SDK talks to (the proxy in front of etcd). */
  baseUrl: string;
  /** The server's version, e.g. "3.5.35". */
  version: string;
  /** A free peer URL for the member the program adds, and one to move it to. */
  newPeerURL: string;
  movedPeerURL: string;
}

/** Keys whose every special character must survive the trip (percent-encoding of the whole key). */
export const specialKeys = [
  "sdk/dir/plain",
  "sdk/with space",
  "sdk/hash#tag",
  "sdk/what?query=1",
  "sdk/100%",
  "sdk/a+b&c=d",
  "sdk/ünïcødé/ключ/鍵",
];

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

/** X-Etcd-Index of an answer, as a number. */
function etcdIndex(r: Response | undefined): number {
  const v = r?.headers.get("X-Etcd-Index");
  assert.ok(v !== null && v !== undefined && /^\d+$/.test(v), `X-Etcd-Index ${v}`);
  return Number(v);
}

/** Every key below a listed node. */
function keysBelow(n: Node | undefined): string[] {
  if (!n) return [];
  return [...(n.dir ? [] : [n.key ?? ""]), ...(n.nodes ?? []).flatMap(keysBelow)];
}

/** Runs every part of the program; returns nothing, throws on the first wrong answer. */
export async function runProgram(o: ProgramOptions): Promise<void> {
  const client = createClient({ baseUrl: o.baseUrl });
  await cluster(client, o);
  await keys(client);
  await watches(client);
  await refused(o.baseUrl);
  await auth(client, o.baseUrl);
  await members(client, o);
}

async function cluster(client: Client, o: ProgramOptions): Promise<void> {
  const v = await sdk.getVersion({ client });
  assert.equal(v.data?.etcdserver, o.version);

  // /health is text: the SDK hands back the string, which is JSON.
  for (const query of [undefined, { serializable: true }, { exclude: ["NOSPACE", "CORRUPT"] }]) {
    const h = await sdk.getHealth({ client, ...(query ? { query } : {}) });
    assert.equal(h.response.status, 200);
    assert.equal(typeof h.data, "string");
    const health = JSON.parse(h.data ?? "") as { health: string; reason?: string };
    assert.equal(health.health, "true");
    assert.equal(health.reason !== undefined, o.version.startsWith("3.5."));
  }

  const m = await sdk.getMachines({ client });
  assert.match(m.data ?? "", /^http:\/\/127\.0\.0\.1:\d+(, http:\/\/127\.0\.0\.1:\d+)*$/);
  const hm = await sdk.headMachines({ client });
  assert.equal(hm.response.status, 200);
  assert.equal(Number(hm.response.headers.get("Content-Length")), (m.data ?? "").length);

  const self = await sdk.getSelfStats({ client });
  assert.ok(self.data?.id);
  const leader = await sdk.getLeader({ client });
  assert.ok(leader.data?.id);
  const ls = await sdk.getLeaderStats({ client });
  if (self.data.id === leader.data.id) {
    assert.equal(ls.response.status, 200);
    assert.equal(Object.keys(ls.data?.followers ?? {}).length, 2);
  } else {
    assert.equal(ls.response.status, 403);
    assert.equal(ls.error?.message, "not current leader");
  }
  const st = await sdk.getStoreStats({ client });
  assert.equal(typeof st.data?.getsSuccess, "number");
}

async function keys(client: Client): Promise<void> {
  // Every special key is written, read back and listed exactly as given.
  for (const key of specialKeys) {
    const set = await sdk.setKey({ client, path: { key }, body: { value: `value of ${key}` } });
    assert.equal(set.response.status, 201, JSON.stringify(set.error));
    assert.equal(set.data?.node?.key, "/" + key);
    assert.equal(etcdIndex(set.response), set.data?.node?.modifiedIndex);
    const got = await sdk.getKey({ client, path: { key } });
    assert.equal(got.data?.node?.value, `value of ${key}`);
    const head = await sdk.headKey({ client, path: { key } });
    assert.equal(head.response.status, 200);
  }
  const listing = await sdk.getKey({ client, path: { key: "sdk" }, query: { recursive: true, sorted: true } });
  assert.deepEqual(keysBelow(listing.data?.node).sort(), specialKeys.map((k) => "/" + k).sort());

  // Writes: TTL, compare-and-swap and create-only, every field in the form.
  const k = "sdk/jobs/42";
  const created = await sdk.setKey({ client, path: { key: k }, body: { value: "pending", ttl: 60 } });
  assert.equal(created.data?.node?.ttl, 60);
  const cas = await sdk.setKey({ client, path: { key: k }, body: { value: "running", prevValue: "pending" } });
  assert.equal(cas.response.status, 200);
  assert.equal(cas.data?.action, "compareAndSwap");
  assert.equal(cas.data?.prevNode?.value, "pending");
  const exists = await sdk.setKey({ client, path: { key: k }, body: { value: "again", prevExist: false } });
  assert.equal(exists.response.status, 412);
  assert.equal(exists.error?.errorCode, 105);
  const quiet = await sdk.setKey({ client, path: { key: k }, body: { value: "quiet", prevIndex: cas.data?.node?.modifiedIndex ?? 0, noValueOnSuccess: true } });
  assert.deepEqual(quiet.data, { action: "compareAndSwap" });
  const dir = await sdk.setKey({ client, path: { key: "sdk/emptydir" }, body: { dir: true } });
  assert.equal(dir.data?.node?.dir, true);

  const missing = await sdk.getKey({ client, path: { key: "sdk/nope" } });
  assert.equal(missing.response.status, 404);
  assert.equal(missing.error?.errorCode, 100);
  const headMissing = await sdk.headKey({ client, path: { key: "sdk/nope" } });
  assert.equal(headMissing.response.status, 404);

  // In-order keys, under a directory and under the root.
  const q = await sdk.createInOrderKey({ client, path: { key: "sdk/queue" }, body: { value: "job1" } });
  assert.match(q.data?.node?.key ?? "", /^\/sdk\/queue\/\d{20}$/);
  const rq = await sdk.createInOrderKeysRoot({ client, body: { value: "rootjob" } });
  const rootKey = (rq.data?.node?.key ?? "").slice(1);
  assert.match(rootKey, /^\d{20}$/);
  const root = await sdk.getKeysRoot({ client, query: { sorted: true } });
  assert.ok(root.data?.node?.nodes?.some((n) => n.key === "/" + rootKey));
  assert.equal(root.data?.node?.key, undefined);
  const headRoot = await sdk.headKeysRoot({ client });
  assert.equal(headRoot.response.status, 200);

  // Deletes: compare-and-delete, an empty directory, a tree.
  const cad = await sdk.deleteKey({ client, path: { key: k }, query: { prevValue: "wrong" } });
  assert.equal(cad.response.status, 412);
  assert.equal(cad.error?.errorCode, 101);
  assert.equal((await sdk.deleteKey({ client, path: { key: k }, query: { prevValue: "quiet" } })).data?.action, "compareAndDelete");
  assert.equal((await sdk.deleteKey({ client, path: { key: "sdk/emptydir" }, query: { dir: true } })).response.status, 200);
  assert.equal((await sdk.deleteKey({ client, path: { key: rootKey } })).data?.action, "delete");
}

async function watches(client: Client): Promise<void> {
  const key = "sdk/watched";
  await sdk.setKey({ client, path: { key }, body: { value: "v0" } });
  // Read, then watch from the read's X-Etcd-Index + 1: nothing is missed.
  const read = await sdk.getKey({ client, path: { key } });
  let next = etcdIndex(read.response) + 1;
  const pending = sdk.getKey({ client, path: { key }, query: { wait: true, waitIndex: next } });
  await sleep(100);
  await sdk.setKey({ client, path: { key }, body: { value: "v1" } });
  await sdk.setKey({ client, path: { key }, body: { value: "v2" } });
  const ev1 = await pending;
  assert.equal(ev1.data?.node?.value, "v1");
  assert.equal(ev1.data?.prevNode?.value, "v0");
  // Continue from the event's modifiedIndex + 1 (not the watch's X-Etcd-Index):
  // v2 was written meanwhile and comes from the history at once.
  next = (ev1.data?.node?.modifiedIndex ?? 0) + 1;
  const ev2 = await sdk.getKey({ client, path: { key }, query: { wait: true, waitIndex: next } });
  assert.equal(ev2.data?.node?.value, "v2");

  // A streamed watch is a sequence of JSON lines: read the raw body.
  const streamed = "sdk/streamed";
  const signal = AbortSignal.timeout(15_000);
  const s = await sdk.getKey({ client, path: { key: streamed }, query: { wait: true, stream: true }, parseAs: "stream", signal });
  assert.equal(s.response.status, 200);
  const reader = (s.data as unknown as ReadableStream<Uint8Array>).getReader();
  for (const v of ["s1", "s2", "s3"]) await sdk.setKey({ client, path: { key: streamed }, body: { value: v } });
  const events: KeyEvent[] = [];
  const decoder = new TextDecoder();
  let buffered = "";
  while (events.length < 3) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended after ${events.length} events`);
    buffered += decoder.decode(value, { stream: true });
    for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      if (line.trim() !== "") events.push(JSON.parse(line) as KeyEvent);
    }
  }
  await reader.cancel();
  assert.deepEqual(events.map((e) => e.node?.value), ["s1", "s2", "s3"]);

  const del = await sdk.deleteKey({ client, path: { key: "sdk" }, query: { recursive: true } });
  assert.equal(del.data?.action, "delete");
}

/** The requests etcd always refuses: no SDK function, so plain fetch. */
async function refused(baseUrl: string): Promise<void> {
  for (const name of ["setKeysRoot", "deleteKeysRoot", "deleteMemberNamedLeader"]) {
    assert.ok(!(name in sdk), `the SDK offers ${name}, which can never succeed`);
  }
  const form = { "Content-Type": "application/x-www-form-urlencoded" };
  const put = await fetch(`${baseUrl}/v2/keys`, { method: "PUT", headers: form, body: "value=x" });
  assert.equal(put.status, 400);
  assert.equal(((await put.json()) as { errorCode: number }).errorCode, 107);
  const del = await fetch(`${baseUrl}/v2/keys?recursive=true`, { method: "DELETE" });
  assert.equal(del.status, 400);
  assert.equal(((await del.json()) as { errorCode: number }).errorCode, 107);
  const leader = await fetch(`${baseUrl}/v2/members/leader`, { method: "DELETE" });
  assert.equal(leader.status, 404);
  assert.equal(((await leader.json()) as { message: string }).message, "No such member: leader");
}

async function auth(client: Client, baseUrl: string): Promise<void> {
  assert.equal((await sdk.getAuthStatus({ client })).data?.enabled, false);
  const role = await sdk.setRole({ client, path: { role: "sdk-readers" }, body: { role: "sdk-readers", permissions: { kv: { read: ["/sdk/*"], write: [] } } } });
  assert.equal(role.response.status, 201);
  const grant = await sdk.setRole({ client, path: { role: "sdk-readers" }, body: { role: "sdk-readers", grant: { kv: { read: ["/other"], write: [] } } } });
  assert.deepEqual(grant.data?.permissions.kv?.read, ["/other", "/sdk/*"]);
  assert.equal((await sdk.getRole({ client, path: { role: "sdk-readers" } })).data?.role, "sdk-readers");
  assert.ok((await sdk.listRoles({ client })).data?.roles.some((r) => r.role === "root"));

  const root = await sdk.setUser({ client, path: { user: "root" }, body: { user: "root", password: "root-pw" } });
  assert.deepEqual(root.data?.roles, ["root"]);
  const alice = await sdk.setUser({ client, path: { user: "alice" }, body: { user: "alice", password: "alice-pw" } });
  assert.equal(alice.response.status, 201);
  const granted = await sdk.setUser({ client, path: { user: "alice" }, body: { user: "alice", grant: ["sdk-readers"] } });
  assert.deepEqual(granted.data?.roles, ["sdk-readers"]);
  assert.deepEqual((await sdk.getUser({ client, path: { user: "alice" } })).data?.roles?.map((r) => r.role), ["sdk-readers"]);

  // Enabling answers 200 with no body: the SDK must not choke on it.
  const on = await sdk.enableAuth({ client });
  assert.equal(on.response.status, 200);
  assert.equal(on.error, undefined);
  const asRoot = createClient({ baseUrl, auth: () => "root:root-pw" });
  try {
    const anon = await sdk.listUsers({ client });
    assert.equal(anon.response.status, 401);
    assert.equal(anon.error?.message, "Insufficient credentials");
    const users = await sdk.listUsers({ client: asRoot });
    assert.deepEqual(users.data?.users?.map((u) => u.user), ["alice", "root"]);
    assert.equal((await sdk.getAuthStatus({ client })).data?.enabled, true);
  } finally {
    const off = await sdk.disableAuth({ client: asRoot });
    assert.equal(off.response.status, 200, JSON.stringify(off.error));
  }
  assert.equal((await sdk.deleteUser({ client, path: { user: "alice" } })).response.status, 200);
  assert.equal((await sdk.deleteUser({ client, path: { user: "root" } })).response.status, 200);
  const gone = await sdk.deleteUser({ client, path: { user: "alice" } });
  assert.equal(gone.response.status, 404);
  assert.equal(gone.error?.message, "auth: User alice does not exist");
  assert.equal((await sdk.deleteRole({ client, path: { role: "sdk-readers" } })).response.status, 200);
}

async function members(client: Client, o: ProgramOptions): Promise<void> {
  const list = await sdk.listMembers({ client });
  assert.equal(list.data?.members.length, 3);
  // etcd refuses adds (500, nothing proposed) until its members have been
  // connected for a while: retry those for up to 20 s.
  let added = await sdk.addMember({ client, body: { peerURLs: [o.newPeerURL] } });
  for (const deadline = Date.now() + 20_000; added.response.status === 500 && Date.now() < deadline; await sleep(500)) {
    added = await sdk.addMember({ client, body: { peerURLs: [o.newPeerURL] } });
  }
  assert.equal(added.response.status, 201, JSON.stringify(added.error));
  const id = added.data?.id ?? "";
  assert.match(id, /^[0-9a-f]+$/);
  assert.equal(added.data?.name, "");
  const moved = await sdk.updateMember({ client, path: { memberId: id }, body: { peerURLs: [o.movedPeerURL] } });
  assert.equal(moved.response.status, 204, JSON.stringify(moved.error));
  const removed = await sdk.deleteMember({ client, path: { memberId: id } });
  assert.equal(removed.response.status, 204, JSON.stringify(removed.error));
  const again = await sdk.deleteMember({ client, path: { memberId: id } });
  assert.equal(again.response.status, 410);
  assert.equal(again.error?.message, `Member permanently removed: ${id}`);
}
