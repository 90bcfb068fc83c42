// Records the examples of openapi.yaml from a real etcd: starts a throwaway
// 3-member cluster on free loopback ports, runs one scripted exchange per
// example, checks that each answer has the status the script expects, and
// rewrites the `components/examples` block of openapi.yaml (between the
// BEGIN/END recorded examples markers) with what the server sent.
//
//   npm run record-examples            # ETCD_BIN=... to pick the server
//
// Request examples are the forms and JSON bodies that were sent; response
// examples are the bodies (or, for HEAD and bodiless answers, the headers)
// that came back. Ids, ports, indexes and times are whatever this run got.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { findEtcd, freePorts, repoRoot, sleep, startCluster, type Cluster } from "./etcd.js";

interface Example {
  summary: string;
  description: string;
  value: unknown;
}

interface Exchange {
  status: number;
  headers: Headers;
  text: string;
  body: unknown;
}

interface Call {
  method: string;
  path: string;
  form?: Record<string, string>;
  json?: unknown;
  auth?: [string, string];
  base?: string;
  expect: number;
  /** Resend for up to 20 s while the answer is 500 (see the member add). */
  retry500?: boolean;
}

const examples = new Map<string, Example>();
let serverVersion = "";

function put(name: string, ex: Example): void {
  if (examples.has(name)) throw new Error(`example ${name} recorded twice`);
  examples.set(name, ex);
}

function requestText(c: Call): string {
  const parts = [`\`${c.method} ${c.path}\``];
  if (c.form) parts.push(`with form body \`${new URLSearchParams(c.form).toString()}\``);
  if (c.json !== undefined) parts.push(`with JSON body \`${JSON.stringify(c.json)}\``);
  if (c.auth) parts.push(`as \`${c.auth[0]}\` (HTTP Basic)`);
  return parts.join(" ");
}

async function send(cluster: Cluster, c: Call): Promise<Exchange> {
  const headers = new Headers();
  let body: string | undefined;
  if (c.form) {
    headers.set("Content-Type", "application/x-www-form-urlencoded");
    body = new URLSearchParams(c.form).toString();
  } else if (c.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(c.json);
  }
  if (c.auth) headers.set("Authorization", "Basic " + Buffer.from(c.auth.join(":")).toString("base64"));
  let r: Response;
  let text: string;
  for (const deadline = Date.now() + 20_000; ; await sleep(500)) {
    r = await fetch((c.base ?? cluster.url) + c.path, { method: c.method, headers, ...(body !== undefined ? { body } : {}), redirect: "manual" });
    text = await r.text();
    if (!(c.retry500 && r.status === 500 && Date.now() < deadline)) break;
  }
  if (r.status !== c.expect) throw new Error(`${c.method} ${c.path}: got ${r.status} ${text}, want ${c.expect}`);
  let parsed: unknown = text;
  if (text.trim() !== "" && (r.headers.get("Content-Type") ?? "").includes("json")) parsed = JSON.parse(text);
  return { status: r.status, headers: r.headers, text, body: parsed };
}

/**
 * Sends one call and records up to three kinds of example from it: the request
 * body (`requestName`), the response body (`responseName`) and response
 * headers (`headerNames`: header -> example name).
 */
async function rec(cluster: Cluster, c: Call, names: {
  summary: string;
  response?: string;
  request?: string;
  requestSummary?: string;
  headers?: Record<string, string>;
  /** What else was true when the exchange happened. */
  context?: string;
}): Promise<Exchange> {
  const x = await send(cluster, c);
  const line = `Recorded from etcd ${serverVersion}${names.context ? ", " + names.context : ""}: ${requestText(c)} answered ${x.status}`;
  if (names.request) {
    put(names.request, {
      summary: names.requestSummary ?? names.summary,
      description: `${line}.`,
      value: c.form ? formValue(c.form) : c.json,
    });
  }
  if (names.response) {
    put(names.response, { summary: names.summary, description: `${line} with this body.`, value: x.body });
  }
  for (const [h, name] of Object.entries(names.headers ?? {})) {
    const v = x.headers.get(h);
    if (v === null) throw new Error(`${c.method} ${c.path}: no ${h} header`);
    put(name, { summary: `${h} of: ${names.summary}`, description: `${line}; \`${h}: ${v}\`.`, value: /^\d+$/.test(v) ? Number(v) : v });
  }
  return x;
}

/** A form as the typed object the spec's form schema describes. */
function formValue(form: Record<string, string>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(form)) {
    if (k === "ttl") out[k] = Number(v);
    else if (["dir", "refresh", "prevExist", "noValueOnSuccess"].includes(k)) out[k] = v === "true";
    else out[k] = v;
  }
  return out;
}

async function script(cl: Cluster): Promise<void> {
  const r = (c: Call, n: Parameters<typeof rec>[2]): Promise<Exchange> => rec(cl, c, n);
  const leader = (await send(cl, { method: "GET", path: "/v2/members/leader", expect: 200 })).body as { clientURLs: string[] };
  const leaderURL = leader.clientURLs[0]!;
  const followerURL = cl.members.map((m) => m.clientURL).find((u) => u !== leaderURL)!;

  // ---- cluster and stats
  await r({ method: "GET", path: "/version", expect: 200 }, { summary: "Versions", response: "getVersion.ok" });
  await r({ method: "GET", path: "/health", expect: 200 }, { summary: "Healthy member", response: "getHealth.ok" });
  await r({ method: "GET", path: "/v2/machines", expect: 200 }, { summary: "Client URLs of a 3-member cluster", response: "getMachines.ok" });
  await r({ method: "HEAD", path: "/v2/machines", expect: 200 }, { summary: "HEAD of the URL list", headers: { "Content-Length": "headMachines.ok.Content-Length" } });
  await r({ method: "GET", path: "/v2/stats/self", base: followerURL, expect: 200 }, { summary: "A follower's raft statistics", response: "getSelfStats.follower", context: "asking a follower" });
  await r({ method: "GET", path: "/v2/stats/leader", base: leaderURL, expect: 200 }, { summary: "The leader's view of its two followers", response: "getLeaderStats.ok", context: "asking the leader" });
  await r({ method: "GET", path: "/v2/stats/leader", base: followerURL, expect: 403 }, { summary: "Asked a follower", response: "getLeaderStats.notLeader", context: "asking a follower" });

  // ---- members
  await r({ method: "GET", path: "/v2/members", expect: 200 }, { summary: "Three members", response: "listMembers.ok" });
  await r({ method: "GET", path: "/v2/members/leader", expect: 200 }, { summary: "The leader", response: "getLeader.ok" });
  const [newPeer, movedPeer] = (await freePorts(2)).map((p) => `http://127.0.0.1:${p}`);
  // The strict reconfiguration check refuses an add with 500 (before
  // anything is proposed, so a retry is safe) until every member has been
  // connected for 5 s: wait for that, and retry (retry500) while it refuses.
  await sleep(Math.max(0, cl.startedAt + 6000 - Date.now()));
  const addCall: Call = { method: "POST", path: "/v2/members", json: { peerURLs: [newPeer] }, expect: 201, retry500: true };
  const added = await r(addCall,
    { summary: "Add a member (not started yet)", request: "addMember.request", requestSummary: "Peer URLs of the new member", response: "addMember.created" });
  const newID = (added.body as { id: string }).id;
  await r({ method: "POST", path: "/v2/members", json: { peerURLs: [cl.members[1]!.peerURL] }, expect: 409 },
    { summary: "A peer URL that a member already has", response: "addMember.peerURLExists" });
  await r({ method: "PUT", path: `/v2/members/${newID}`, json: { peerURLs: [movedPeer] }, expect: 204 },
    { summary: "Move a member to another peer URL (204, no body)", request: "updateMember.request" });
  await r({ method: "PUT", path: "/v2/members/1234", json: { peerURLs: [movedPeer] }, expect: 404 },
    { summary: "Unknown member id", response: "updateMember.noSuchMember" });
  await r({ method: "DELETE", path: `/v2/members/${newID}`, expect: 204 }, { summary: "Remove a member (204, no body)" });
  await r({ method: "DELETE", path: `/v2/members/${newID}`, expect: 410 }, { summary: "Remove it again", response: "deleteMember.removed" });
  await r({ method: "DELETE", path: "/v2/members/1234", expect: 404 }, { summary: "Unknown member id", response: "deleteMember.noSuchMember" });
  await r({ method: "DELETE", path: "/v2/members/leader", expect: 404 }, { summary: "`leader` is not a member id", response: "deleteMemberNamedLeader.notFound" });
  await r({ method: "POST", path: "/v2/members", json: { peerURLs: ["ftp://127.0.0.1:1"] }, expect: 400 },
    { summary: "A peer URL with a scheme etcd does not take", response: "addMember.badURL" });

  // ---- keys
  await r({ method: "PUT", path: "/v2/keys/foo", form: { value: "bar" }, expect: 201 },
    { summary: "Set a new key (201)", request: "setKey.request.set", requestSummary: "A value", response: "setKey.created" });
  await r({ method: "PUT", path: "/v2/keys/foo", form: { value: "bar2" }, expect: 200 },
    { summary: "Replace an existing key (200, prevNode, createdIndex reset)", request: "setKey.request.replace", requestSummary: "A new value", response: "setKey.replaced" });
  await r({ method: "PUT", path: "/v2/keys/session", form: { value: "token", ttl: "60" }, expect: 201 },
    { summary: "Set with a TTL", request: "setKey.request.ttl", requestSummary: "A value with a TTL of 60 s", response: "setKey.withTTL" });
  await r({ method: "PUT", path: "/v2/keys/foo", form: { value: "bar3", prevValue: "bar2" }, expect: 200 },
    { summary: "Compare-and-swap (prevValue=bar2)", request: "setKey.request.compareAndSwap", requestSummary: "A new value if the current one is bar2", response: "setKey.compareAndSwap" });
  await r({ method: "PUT", path: "/v2/keys/foo", form: { value: "bar4", prevValue: "wrong" }, expect: 412 },
    { summary: "Compare failed (prevValue=wrong)", response: "setKey.compareFailed" });
  await r({ method: "PUT", path: "/v2/keys/foo", form: { value: "again", prevExist: "false" }, expect: 412 },
    { summary: "Create-only on an existing key (prevExist=false)", request: "setKey.request.createOnly", requestSummary: "Create only (prevExist=false)", response: "setKey.alreadyExists" });
  await r({ method: "PUT", path: "/v2/keys/ghost", form: { value: "v", prevExist: "true" }, expect: 404 },
    { summary: "Update-only on a missing key (prevExist=true)", response: "setKey.notFound" });
  await r({ method: "PUT", path: "/v2/keys/dir", form: { dir: "true" }, expect: 201 },
    { summary: "Create a directory", request: "setKey.request.dir", requestSummary: "A directory", response: "setKey.dirCreated" });
  await r({ method: "PUT", path: "/v2/keys/dir", form: { value: "v" }, expect: 403 },
    { summary: "A value over a directory", response: "setKey.notAFile" });
  await r({ method: "PUT", path: "/v2/keys/foo", form: { value: "v", prevExist: "maybe" }, expect: 400 },
    { summary: "A malformed boolean (checked before the store: index 0)", response: "setKey.invalidField" });
  await r({ method: "PUT", path: "/v2/keys/foo", form: { value: "quiet", noValueOnSuccess: "true" }, expect: 200 },
    { summary: "noValueOnSuccess=true: the action only", request: "setKey.request.noValueOnSuccess", requestSummary: "A value, answer without the node", response: "setKey.noValueOnSuccess" });
  await r({ method: "PUT", path: "/v2/keys", form: { value: "x" }, expect: 400 },
    { summary: "The root is read only", response: "setKeysRoot.rootReadOnly" });
  await r({ method: "PUT", path: "/v2/keys/dir/a", form: { value: "1" }, expect: 201 }, { summary: "fill dir" });
  await r({ method: "PUT", path: "/v2/keys/dir/sub/b", form: { value: "2" }, expect: 201 }, { summary: "fill dir" });

  await r({ method: "GET", path: "/v2/keys/foo", expect: 200 }, { summary: "A file", response: "getKey.file" });
  await r({ method: "GET", path: "/v2/keys/dir?recursive=true&sorted=true", expect: 200 }, { summary: "A directory, recursive and sorted", response: "getKey.dir" });
  await r({ method: "GET", path: "/v2/keys/missing", expect: 404 }, { summary: "Key not found", response: "getKey.notFound" });
  await r({ method: "GET", path: "/v2/keys/foo?recursive=yes", expect: 400 }, { summary: "A malformed boolean", response: "getKey.invalidField" });
  await r({ method: "GET", path: "/v2/keys/foo?wait=true&waitIndex=next", expect: 400 }, { summary: "A waitIndex that is not a number", response: "keys.badWaitIndex" });
  await r({ method: "HEAD", path: "/v2/keys/foo", expect: 200 },
    { summary: "HEAD of a file", headers: { "X-Etcd-Index": "headKey.ok.X-Etcd-Index", "Content-Length": "headKey.ok.Content-Length" } });
  await r({ method: "HEAD", path: "/v2/keys/missing", expect: 404 },
    { summary: "HEAD of a missing key", headers: { "X-Etcd-Index": "headKey.notFound.X-Etcd-Index" } });
  await r({ method: "GET", path: "/v2/keys?sorted=true", expect: 200 }, { summary: "The root directory, sorted", response: "getKeysRoot.listing" });
  await r({ method: "HEAD", path: "/v2/keys", expect: 200 },
    { summary: "HEAD of the root listing", headers: { "X-Etcd-Index": "headKeysRoot.ok.X-Etcd-Index", "Content-Length": "headKeysRoot.ok.Content-Length" } });

  // A watch from the next index, fired by a set.
  const cur = Number((await send(cl, { method: "GET", path: "/v2/keys/foo", expect: 200 })).headers.get("X-Etcd-Index"));
  const watchCall: Call = { method: "GET", path: `/v2/keys/foo?wait=true&waitIndex=${cur + 1}`, expect: 200 };
  const watch = rec(cl, watchCall, { summary: "A watch (wait=true) woken by a set", response: "getKey.watch" });
  await sleep(200);
  await send(cl, { method: "PUT", path: "/v2/keys/foo", form: { value: "watched" }, expect: 200 });
  await watch;

  await r({ method: "POST", path: "/v2/keys/queue", form: { value: "job1" }, expect: 201 },
    { summary: "An in-order key", request: "createInOrderKey.request", requestSummary: "The value of the new entry", response: "createInOrderKey.created" });
  await r({ method: "POST", path: "/v2/keys/foo", form: { value: "job" }, expect: 400 },
    { summary: "The parent is a file", response: "createInOrderKey.notADirectory" });
  await r({ method: "POST", path: "/v2/keys", form: { value: "job" }, expect: 201 },
    { summary: "An in-order key under the root", request: "createInOrderKeysRoot.request", requestSummary: "The value of the new entry", response: "createInOrderKeysRoot.created" });

  await r({ method: "DELETE", path: "/v2/keys/session?prevValue=wrong", expect: 412 }, { summary: "Compare-and-delete failed", response: "deleteKey.compareFailed" });
  await r({ method: "DELETE", path: "/v2/keys/session?prevValue=token", expect: 200 }, { summary: "Compare-and-delete", response: "deleteKey.compareAndDelete" });
  await r({ method: "DELETE", path: "/v2/keys/foo", expect: 200 }, { summary: "Delete a file", response: "deleteKey.file" });
  await r({ method: "DELETE", path: "/v2/keys/dir?dir=true", expect: 403 }, { summary: "dir=true on a non-empty directory", response: "deleteKey.directoryNotEmpty" });
  await r({ method: "DELETE", path: "/v2/keys/dir?recursive=true", expect: 200 }, { summary: "Delete a directory tree", response: "deleteKey.recursive" });
  await r({ method: "DELETE", path: "/v2/keys/missing", expect: 404 }, { summary: "Key not found", response: "deleteKey.notFound" });
  await r({ method: "DELETE", path: "/v2/keys?recursive=true", expect: 400 }, { summary: "The root is read only", response: "deleteKeysRoot.rootReadOnly" });

  // ---- auth
  await r({ method: "GET", path: "/v2/auth/enable", expect: 200 }, { summary: "Auth is off", response: "getAuthStatus.disabled" });
  await r({ method: "GET", path: "/v2/auth/users", expect: 200 }, { summary: "No users yet", response: "listUsers.none" });
  await r({ method: "PUT", path: "/v2/auth/enable", expect: 409 }, { summary: "No root user yet", response: "enableAuth.noRootUser" });
  await r({ method: "PUT", path: "/v2/auth/roles/readers", json: { role: "readers", permissions: { kv: { read: ["/app/*"], write: [] } } }, expect: 201 },
    { summary: "Create a role (201)", request: "setRole.request.create", requestSummary: "A role with read access to /app/*", response: "setRole.created" });
  await r({ method: "PUT", path: "/v2/auth/roles/readers", json: { role: "readers", grant: { kv: { read: ["/config"], write: [] } } }, expect: 200 },
    { summary: "Grant a permission (200, the resulting role)", request: "setRole.request.grant", requestSummary: "Grant read access to /config", response: "setRole.changed" });
  await r({ method: "PUT", path: "/v2/auth/roles/readers", json: { role: "readers", permissions: { kv: { read: ["/x"] } } }, expect: 409 },
    { summary: "Create an existing role", response: "setRole.alreadyExists" });
  await r({ method: "PUT", path: "/v2/auth/roles/root", json: { role: "root", grant: { kv: { read: ["/x"] } } }, expect: 403 },
    { summary: "The root role cannot change", response: "setRole.rootRole" });
  await r({ method: "GET", path: "/v2/auth/roles/readers", expect: 200 }, { summary: "A role", response: "getRole.ok" });
  await r({ method: "GET", path: "/v2/auth/roles/nope", expect: 404 }, { summary: "No such role", response: "getRole.notFound" });
  await r({ method: "GET", path: "/v2/auth/roles", expect: 200 }, { summary: "root and one more role", response: "listRoles.ok" });
  await r({ method: "PUT", path: "/v2/auth/users/root", json: { user: "root", password: "rootpw" }, expect: 201 },
    { summary: "Create the root user (201)", request: "setUser.request.create", requestSummary: "A new user with a password", response: "setUser.created" });
  await r({ method: "PUT", path: "/v2/auth/users/alice", json: { user: "alice", password: "alicepw", roles: ["readers"] }, expect: 200 },
    { summary: "Create a user with roles (200, not 201)", request: "setUser.request.createWithRoles", requestSummary: "A new user with a password and roles", response: "setUser.createdWithRoles" });
  await r({ method: "PUT", path: "/v2/auth/users/alice", json: { user: "alice", grant: ["readers"] }, expect: 409 },
    { summary: "Grant a role the user already has", request: "setUser.request.grant", requestSummary: "Grant a role", response: "setUser.duplicateGrant" });
  await r({ method: "GET", path: "/v2/auth/users/alice", expect: 200 }, { summary: "A user with its role objects", response: "getUser.ok" });
  await r({ method: "GET", path: "/v2/auth/users/nobody", expect: 404 }, { summary: "No such user", response: "getUser.notFound" });
  await r({ method: "GET", path: "/v2/auth/users", expect: 200 }, { summary: "Two users", response: "listUsers.ok" });
  await r({ method: "PUT", path: "/v2/auth/enable", expect: 200 }, { summary: "Enable auth (200, empty body)" });
  await r({ method: "GET", path: "/v2/auth/enable", expect: 200 }, { summary: "Auth is on", response: "getAuthStatus.enabled", context: "auth enabled" });
  await r({ method: "GET", path: "/v2/auth/users", expect: 401 }, { summary: "No credentials while auth is on", response: "listUsers.unauthorized", context: "auth enabled" });
  await r({ method: "GET", path: "/v2/keys/app/config", auth: ["root", "wrongpw"], expect: 401 },
    { summary: "A wrong password while auth is on", response: "keys.unauthorized", context: "auth enabled" });
  await r({ method: "GET", path: "/v2/auth/roles", expect: 401 }, { summary: "No credentials while auth is on", response: "http.unauthorized", context: "auth enabled" });
  await r({ method: "PUT", path: "/v2/auth/enable", auth: ["root", "rootpw"], expect: 409 }, { summary: "Already enabled", response: "enableAuth.alreadyEnabled", context: "auth enabled" });
  await r({ method: "DELETE", path: "/v2/auth/users/root", auth: ["root", "rootpw"], expect: 403 }, { summary: "root while auth is on", response: "deleteUser.rootWhileEnabled", context: "auth enabled" });
  await r({ method: "DELETE", path: "/v2/auth/enable", expect: 401 }, { summary: "Disable without credentials", response: "disableAuth.unauthorized", context: "auth enabled" });
  await r({ method: "DELETE", path: "/v2/auth/enable", auth: ["root", "rootpw"], expect: 200 }, { summary: "Disable auth (200, empty body)" });
  await r({ method: "DELETE", path: "/v2/auth/enable", expect: 409 }, { summary: "Already disabled", response: "disableAuth.alreadyDisabled" });
  await r({ method: "DELETE", path: "/v2/auth/users/alice", expect: 200 }, { summary: "Delete a user (200, empty body)" });
  await r({ method: "DELETE", path: "/v2/auth/users/alice", expect: 404 }, { summary: "Delete it again", response: "deleteUser.notFound" });
  await r({ method: "DELETE", path: "/v2/auth/roles/readers", expect: 200 }, { summary: "Delete a role (200, empty body)" });
  await r({ method: "DELETE", path: "/v2/auth/roles/readers", expect: 404 }, { summary: "Delete it again", response: "deleteRole.notFound" });
  await r({ method: "DELETE", path: "/v2/auth/roles/root", expect: 403 }, { summary: "The root role", response: "deleteRole.rootRole" });

  // Store counters, so that they count what ran above.
  await r({ method: "GET", path: "/v2/stats/store", expect: 200 }, { summary: "Store counters", response: "getStoreStats.ok" });

  // ---- quorum lost: stop two of the three members; the survivor (m1) loses
  // its leader within an election timeout.
  await cl.stopMember(1);
  await cl.stopMember(2);
  for (let deadline = Date.now() + 10_000; ; await sleep(200)) {
    const h = await fetch(`${cl.url}/v2/members/leader`);
    await h.text();
    if (h.status === 503) break;
    if (Date.now() > deadline) throw new Error("the survivor still has a leader after 10 s");
  }
  await r({ method: "GET", path: "/v2/members/leader", expect: 503 }, { summary: "No leader (quorum lost)", response: "getLeader.noLeader", context: "two of the three members stopped" });
  await r({ method: "GET", path: "/health", expect: 503 }, { summary: "No leader (quorum lost)", response: "getHealth.noLeader", context: "two of the three members stopped" });
}

// ---- YAML output: JSON flow values are valid YAML and keep the bytes exact.

const BEGIN = "  # BEGIN recorded examples";
const END = "  # END recorded examples";

function yamlString(s: string): string {
  return JSON.stringify(s);
}

function render(): string {
  const out = [
    `${BEGIN}: written by \`npm run record-examples\` (spec/record-examples.ts)`,
    "  # from a throwaway etcd cluster; do not edit by hand, re-record instead.",
    "  examples:",
  ];
  for (const name of [...examples.keys()].sort()) {
    const ex = examples.get(name)!;
    out.push(`    ${name}:`);
    out.push(`      summary: ${yamlString(ex.summary)}`);
    out.push(`      description: ${yamlString(ex.description)}`);
    out.push(`      value: ${JSON.stringify(ex.value)}`);
  }
  out.push(END);
  return out.join("\n") + "\n";
}

async function main(): Promise<void> {
  const bin = findEtcd();
  if (!bin) throw new Error("no etcd binary: set ETCD_BIN");
  const cluster = await startCluster(bin, 3);
  try {
    serverVersion = `${cluster.version} (3-member cluster)`;
    await script(cluster);
  } finally {
    await cluster.stop();
  }
  const specPath = join(repoRoot, "openapi.yaml");
  const spec = readFileSync(specPath, "utf8");
  const b = spec.indexOf(BEGIN);
  const e = spec.indexOf(END);
  if (b < 0 || e < b) throw new Error(`openapi.yaml has no "${BEGIN.trim()}" ... "${END.trim()}" block`);
  const lineEnd = spec.indexOf("\n", e);
  const next = spec.slice(0, b) + render() + (lineEnd < 0 ? "" : spec.slice(lineEnd + 1));
  writeFileSync(specPath, next);
  console.log(`record-examples: ${examples.size} examples from etcd ${serverVersion} written to openapi.yaml`);
}

main().catch((err: unknown) => {
  console.error("record-examples:", err);
  process.exitCode = 1;
});
