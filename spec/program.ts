// A small etcd v2 client written only against the TypeScript types that
// openapi-typescript generates from ../openapi.yaml (etcd-v2.gen.ts). It is
// what a team in another language would write on top of the spec: typed
// keys, key-space requests and answers, member and auth requests and
// answers. `make spec-check` type-checks it with tsc, so the check fails
// when the spec loses an operation, a status, a body or a field used here;
// live.test.ts runs it against a real etcd.

import type { components, operations, paths } from "./etcd-v2.gen.js";

type Schemas = components["schemas"];
type JSONBody<R> = R extends { content: { "application/json": infer B } } ? B : never;

// ---- Types taken from the operations, so that a lost operation, status,
// ---- request body or media type breaks the build.

/** A key path below /v2/keys, as the `{key}` path parameter types it. */
export type Key = paths["/v2/keys/{key}"]["parameters"]["path"]["key"];
export type GetKeyQuery = NonNullable<operations["getKey"]["parameters"]["query"]>;
export type DeleteKeyQuery = NonNullable<operations["deleteKey"]["parameters"]["query"]>;
export type SetKeyForm = NonNullable<operations["setKey"]["requestBody"]>["content"]["application/x-www-form-urlencoded"];
export type InOrderForm = NonNullable<operations["createInOrderKey"]["requestBody"]>["content"]["application/x-www-form-urlencoded"];
export type KeyEvent = JSONBody<operations["getKey"]["responses"][200]>;
export type SetKeyCreated = JSONBody<operations["setKey"]["responses"][201]>;
export type KeyError = JSONBody<operations["getKey"]["responses"][404]>;
export type KeyNode = Schemas["Node"];

export type MemberList = JSONBody<operations["listMembers"]["responses"][200]>;
export type Member = JSONBody<operations["getLeader"]["responses"][200]>;
export type MemberRequest = operations["addMember"]["requestBody"]["content"]["application/json"];
export type AddedMember = JSONBody<operations["addMember"]["responses"][201]>;

export type AuthStatus = JSONBody<operations["getAuthStatus"]["responses"][200]>;
export type UserRequest = operations["setUser"]["requestBody"]["content"]["application/json"];
export type UserCreated = JSONBody<operations["setUser"]["responses"][201]>;
export type User = JSONBody<operations["getUser"]["responses"][200]>;
export type UserList = JSONBody<operations["listUsers"]["responses"][200]>;
export type RoleRequest = operations["setRole"]["requestBody"]["content"]["application/json"];
export type Role = JSONBody<operations["setRole"]["responses"][201]>;
export type HTTPError = JSONBody<operations["listUsers"]["responses"][401]>;
export type Versions = JSONBody<operations["getVersion"]["responses"][200]>;

// ---- Typed keys.

/** Joins path segments into a canonical key (no leading, doubled or trailing slash). */
export function key(...segments: string[]): Key {
  const parts = segments.flatMap((s) => s.split("/")).filter((s) => s !== "");
  if (parts.some((p) => p === "." || p === "..")) throw new Error(`key ${segments.join("/")}: dot segment`);
  return parts.join("/");
}

/** The absolute key etcd reports in `node.key` for a {key} path parameter. */
export function absoluteKey(k: Key): NonNullable<KeyNode["key"]> {
  return "/" + k;
}

// ---- Requests built from the typed forms and bodies.

/** Encodes a typed form or query the way etcd parses it (strconv.ParseBool, decimal numbers). */
export function encodeForm(form: SetKeyForm | InOrderForm | GetKeyQuery | DeleteKeyQuery): URLSearchParams {
  const u = new URLSearchParams();
  for (const [name, v] of Object.entries(form) as [string, string | number | boolean | undefined][]) {
    if (v !== undefined) u.set(name, String(v));
  }
  return u;
}

export function setRequest(k: Key, form: SetKeyForm): { path: string; init: RequestInit } {
  return {
    path: `/v2/keys/${encodeKey(k)}`,
    init: {
      method: "PUT",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: encodeForm(form).toString(),
    },
  };
}

export function addMemberRequest(peerURLs: string[]): MemberRequest {
  return { peerURLs };
}

export function createUserRequest(user: string, password: string, roles?: string[]): UserRequest {
  return roles ? { user, password, roles } : { user, password };
}

export function grantRolesRequest(user: string, grant: string[]): UserRequest {
  return { user, grant };
}

export function createRoleRequest(role: string, read: string[], write: string[]): RoleRequest {
  return { role, permissions: { kv: { read, write } } };
}

/** Percent-encodes the whole key as one path segment ("/" too), as openapi.yaml recommends. */
function encodeKey(k: Key): string {
  return encodeURIComponent(k);
}

// ---- Reading typed answers.

export function describeEvent(e: KeyEvent): string {
  const n = e.node;
  const prev = e.prevNode ? ` (was ${JSON.stringify(e.prevNode.value)} @${e.prevNode.modifiedIndex})` : "";
  if (!n) return e.action;
  const what = n.dir ? `dir ${n.key ?? "/"} [${(n.nodes ?? []).length} children]` : `${n.key}=${JSON.stringify(n.value)}`;
  const ttl = n.ttl !== undefined ? ` ttl=${n.ttl} expires ${n.expiration}` : "";
  return `${e.action} ${what} modified@${n.modifiedIndex} created@${n.createdIndex}${ttl}${prev}`;
}

export function keyErrorText(e: KeyError): string {
  return `etcd error ${e.errorCode}: ${e.message} (${e.cause ?? ""}) at index ${e.index ?? 0}`;
}

export function memberSummary(m: Member): string {
  return `${m.id} ${m.name || "(unstarted)"} peers=${m.peerURLs.join(",")} clients=${m.clientURLs.join(",")}`;
}

export function permissionsOf(r: Role): { read: string[]; write: string[] } {
  return { read: r.permissions.kv?.read ?? [], write: r.permissions.kv?.write ?? [] };
}

export function rolesOfUser(u: User): string[] {
  return (u.roles ?? []).map((r) => r.role);
}

// ---- A fetch-based client.

export type Reply<T, E> =
  | { ok: true; status: number; body: T; etcdIndex: number | undefined }
  | { ok: false; status: number; error: E; etcdIndex: number | undefined };

export interface Credentials {
  user: string;
  password: string;
}

export class V2Client {
  constructor(readonly base: string, readonly credentials?: Credentials) {}

  /** Returns a client that sends HTTP Basic credentials. */
  as(credentials: Credentials): V2Client {
    return new V2Client(this.base, credentials);
  }

  getKey(k: Key, query: GetKeyQuery = {}): Promise<Reply<KeyEvent, KeyError>> {
    const q = encodeForm(query).toString();
    return this.call(`/v2/keys/${encodeKey(k)}${q ? "?" + q : ""}`, { method: "GET" });
  }

  setKey(k: Key, form: SetKeyForm): Promise<Reply<KeyEvent | SetKeyCreated, KeyError>> {
    const r = setRequest(k, form);
    return this.call(r.path, r.init);
  }

  deleteKey(k: Key, query: DeleteKeyQuery = {}): Promise<Reply<KeyEvent, KeyError>> {
    const q = encodeForm(query).toString();
    return this.call(`/v2/keys/${encodeKey(k)}${q ? "?" + q : ""}`, { method: "DELETE" });
  }

  /**
   * Waits for the next change of k at or after waitIndex (one long poll).
   * A watch may end with 200 and no event; then the answer is undefined.
   */
  async watchOnce(k: Key, waitIndex: number, signal?: AbortSignal): Promise<KeyEvent | undefined> {
    const query: GetKeyQuery = { wait: true, waitIndex };
    const r = await fetch(`${this.base}/v2/keys/${encodeKey(k)}?${encodeForm(query)}`, {
      headers: this.headers(),
      ...(signal ? { signal } : {}),
    });
    const text = await r.text();
    if (r.status !== 200) throw new Error(`watch ${k}: ${r.status} ${text}`);
    return text.trim() === "" ? undefined : (JSON.parse(text) as KeyEvent);
  }

  listMembers(): Promise<Reply<MemberList, HTTPError>> {
    return this.call("/v2/members", { method: "GET" });
  }

  getLeader(): Promise<Reply<Member, HTTPError>> {
    return this.call("/v2/members/leader", { method: "GET" });
  }

  addMember(body: MemberRequest): Promise<Reply<AddedMember, HTTPError>> {
    return this.call("/v2/members", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  }

  getAuthStatus(): Promise<Reply<AuthStatus, HTTPError>> {
    return this.call("/v2/auth/enable", { method: "GET" });
  }

  setAuth(enabled: boolean): Promise<Reply<void, HTTPError>> {
    return this.call("/v2/auth/enable", { method: enabled ? "PUT" : "DELETE" });
  }

  setUser(body: UserRequest): Promise<Reply<UserCreated, HTTPError>> {
    return this.call(`/v2/auth/users/${encodeURIComponent(body.user)}`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  }

  getUser(name: string): Promise<Reply<User, HTTPError>> {
    return this.call(`/v2/auth/users/${encodeURIComponent(name)}`, { method: "GET" });
  }

  listUsers(): Promise<Reply<UserList, HTTPError>> {
    return this.call("/v2/auth/users", { method: "GET" });
  }

  deleteUser(name: string): Promise<Reply<void, HTTPError>> {
    return this.call(`/v2/auth/users/${encodeURIComponent(name)}`, { method: "DELETE" });
  }

  setRole(body: RoleRequest): Promise<Reply<Role, HTTPError>> {
    return this.call(`/v2/auth/roles/${encodeURIComponent(body.role)}`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  }

  deleteRole(name: string): Promise<Reply<void, HTTPError>> {
    return this.call(`/v2/auth/roles/${encodeURIComponent(name)}`, { method: "DELETE" });
  }

  version(): Promise<Reply<Versions, never>> {
    return this.call("/version", { method: "GET" });
  }

  private headers(extra?: RequestInit["headers"]): Headers {
    const h = new Headers(extra);
    if (this.credentials) {
      h.set("Authorization", "Basic " + Buffer.from(`${this.credentials.user}:${this.credentials.password}`).toString("base64"));
    }
    return h;
  }

  private async call<T, E>(path: string, init: RequestInit): Promise<Reply<T, E>> {
    const r = await fetch(this.base + path, { ...init, headers: this.headers(init.headers) });
    const text = await r.text();
    const idx = r.headers.get("X-Etcd-Index");
    const etcdIndex = idx === null ? undefined : Number(idx);
    const parsed: unknown = text.trim() === "" ? undefined : JSON.parse(text);
    return r.status < 300
      ? { ok: true, status: r.status, body: parsed as T, etcdIndex }
      : { ok: false, status: r.status, error: parsed as E, etcdIndex };
  }
}
