// The second validator: checks the exchanges the proxy recorded against
// openapi.yaml with its own routing and @cfworker/json-schema (not Ajv,
// which the proxy's openapi-backend uses). OpenAPI 3.0 schemas are turned
// into JSON Schema 2020-12 here (`nullable` becomes a "null" type, uint64 a
// minimum of 0). Stricter than the proxy in one way: a query parameter the
// operation does not declare is a violation, so that a client sending a
// write's fields in the query (where etcd also reads them) is caught.

import { Validator, type Schema } from "@cfworker/json-schema";

import type { Exchange } from "./sdk-proxy.js";
import type { Doc } from "./sdk-spec.js";

type Obj = Record<string, any>;

/** An OpenAPI 3.0 schema as JSON Schema 2020-12, refs pointing into $defs. */
function toJSONSchema(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(toJSONSchema);
  if (s === null || typeof s !== "object") return s;
  const o = s as Obj;
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === "example" || k === "examples" || k === "nullable" || k.startsWith("x-")) continue;
    if (k === "$ref" && typeof v === "string") out[k] = v.replace("#/components/schemas/", "#/$defs/");
    else if (k === "properties" || k === "$defs") out[k] = Object.fromEntries(Object.entries(v as Obj).map(([n, p]) => [n, toJSONSchema(p)]));
    else out[k] = toJSONSchema(v);
  }
  if (o["nullable"] === true && typeof o["type"] === "string") out["type"] = [o["type"], "null"];
  if (o["format"] === "uint64" && out["minimum"] === undefined) out["minimum"] = 0;
  return out;
}

export class TrafficCheck {
  private readonly defs: Obj;
  private readonly validators = new Map<unknown, Validator>();

  constructor(private readonly doc: Doc) {
    this.defs = toJSONSchema(doc["components"]?.["schemas"] ?? {}) as Obj;
  }

  /** Resolves a local $ref of the OpenAPI document. */
  private deref<T = Obj>(o: unknown): T {
    let cur = o as Obj | undefined;
    while (cur && typeof cur["$ref"] === "string") {
      cur = (cur["$ref"] as string).slice(2).split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~")).reduce<Obj | undefined>((a, k) => a?.[k], this.doc);
    }
    return cur as T;
  }

  private validate(schema: unknown, value: unknown): string | undefined {
    let v = this.validators.get(schema);
    if (!v) {
      v = new Validator({ ...(toJSONSchema(schema) as Obj), $defs: this.defs } as Schema, "2020-12", false);
      this.validators.set(schema, v);
    }
    const r = v.validate(value);
    return r.valid ? undefined : r.errors.map((e) => `${e.instanceLocation}: ${e.error}`).join("; ");
  }

  /** The text of a parameter or form field as the value its schema types. */
  private typed(schema: unknown, text: string): unknown {
    const type = this.deref(schema)?.["type"];
    if (type === "integer" || type === "number") return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
    if (type === "boolean") return text === "true" ? true : text === "false" ? false : text;
    return text;
  }

  private route(method: string, pathname: string): { op: Obj; params: Record<string, string>; path: string } | undefined {
    const paths = this.doc["paths"] as Record<string, Obj>;
    const candidates = Object.keys(paths).sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
    for (const p of candidates) {
      const names: string[] = [];
      const re = new RegExp("^" + p.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{([^}]+)\\?\}/g, (_m, n: string) => { names.push(n); return "([^/]+)"; }) + "$");
      const m = re.exec(pathname);
      if (!m) continue;
      const op = paths[p]![method.toLowerCase()] as Obj | undefined;
      if (!op) continue;
      return { op, path: p, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])) };
    }
    return undefined;
  }

  /** Returns every way the exchange differs from the spec. */
  check(x: Exchange): string[] {
    const out: string[] = [];
    const bad = (m: string): void => { out.push(`${x.method} ${x.url}: ${m}`); };
    const u = new URL(x.url, "http://traffic");
    const r = this.route(x.method, u.pathname);
    if (!r) { bad("no operation in the spec"); return out; }
    const pathItem = (this.doc["paths"] as Obj)[r.path] as Obj;
    const params = [...(pathItem["parameters"] ?? []), ...(r.op["parameters"] ?? [])].map((p) => this.deref(p));

    // ---- request
    for (const p of params) {
      if (p["in"] === "path") {
        const err = this.validate(p["schema"], r.params[p["name"]]);
        if (err) bad(`path parameter ${p["name"]}: ${err}`);
      } else if (p["in"] === "query") {
        const all = u.searchParams.getAll(p["name"]);
        if (all.length === 0) { if (p["required"]) bad(`query parameter ${p["name"]} missing`); continue; }
        const schema = this.deref(p["schema"]);
        const value = schema["type"] === "array" ? all.map((t) => this.typed(schema["items"], t)) : this.typed(schema, all[0]!);
        const err = this.validate(schema, value);
        if (err) bad(`query parameter ${p["name"]}: ${err}`);
      }
    }
    for (const name of new Set(u.searchParams.keys())) {
      if (!params.some((p) => p["in"] === "query" && p["name"] === name)) bad(`query parameter ${name} is not declared`);
    }
    const rb = this.deref(r.op["requestBody"]);
    const ct = (x.requestHeaders["content-type"] ?? "").split(";")[0]!.trim();
    if (x.requestBody !== "") {
      const media = rb?.["content"]?.[ct];
      if (!media) bad(`request Content-Type ${ct || "(none)"} not declared`);
      else if (ct === "application/json") {
        try {
          const err = this.validate(media["schema"], JSON.parse(x.requestBody));
          if (err) bad(`request body: ${err}`);
        } catch { bad("request body is not JSON"); }
      } else if (ct === "application/x-www-form-urlencoded") {
        const schema = this.deref(media["schema"]);
        const form: Obj = {};
        for (const [k, v] of new URLSearchParams(x.requestBody)) form[k] = this.typed(schema["properties"]?.[k], v);
        const err = this.validate(schema, form);
        if (err) bad(`form body: ${err}`);
      }
    } else if (rb?.["required"]) bad("request body missing");

    // ---- response
    const resp = this.deref(r.op["responses"]?.[String(x.status)] ?? r.op["responses"]?.["default"]);
    if (!resp) { bad(`status ${x.status} not declared for ${r.op["operationId"]}`); return out; }
    for (const [name, h0] of Object.entries<Obj>(resp["headers"] ?? {})) {
      const text = x.responseHeaders[name.toLowerCase()];
      if (text === undefined) continue;
      const h = this.deref(h0);
      const err = this.validate(h["schema"], this.typed(h["schema"], text));
      if (err) bad(`header ${name}: ${err}`);
    }
    const content = (resp["content"] ?? {}) as Obj;
    const sent = (x.responseHeaders["content-type"] ?? "").split(";")[0]!.trim();
    if (Object.keys(content).length === 0) {
      if (x.responseBody !== "") bad("a body where the spec declares none");
      return out;
    }
    const media = content[sent];
    if (!media) { bad(`Content-Type ${sent || "(none)"} not declared`); return out; }
    if (sent !== "application/json") {
      const err = this.validate(media["schema"], x.responseBody);
      if (err) bad(`${sent} body: ${err}`);
      return out;
    }
    const isWait = x.method === "GET" && u.searchParams.get("wait") === "true";
    const docs = x.stream ? x.responseBody.split("\n").filter((l) => l.trim() !== "") : isWait && x.responseBody === "" ? [] : [x.responseBody];
    for (const text of docs) {
      try {
        const err = this.validate(media["schema"], JSON.parse(text));
        if (err) bad(`body: ${err}`);
      } catch { bad(`body is not JSON: ${JSON.stringify(text.slice(0, 200))}`); }
    }
    return out;
  }

  /** Operation ids of every path method, for coverage. */
  operationOf(x: Exchange): string | undefined {
    return this.route(x.method, new URL(x.url, "http://traffic").pathname)?.op["operationId"];
  }
}

