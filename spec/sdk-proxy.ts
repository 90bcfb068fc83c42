// A validating HTTP proxy in front of a real etcd, built on openapi-backend
// (routing, request validation, JSON response bodies and response headers,
// all by its own Ajv schemas) - independent of the Go contract tests'
// kin-openapi. Every exchange is forwarded unchanged and recorded; every
// mismatch with openapi.yaml is a violation. What openapi-backend leaves
// to its caller is checked here: the status must be declared, a response
// without declared content must have no body, the Content-Type must be a
// declared one, text/plain bodies must match their schema, and a streamed
// watch (wait=true&stream=true) is validated event by event as it passes
// through, so it never has to end.

import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { OpenAPIBackend, SetMatchType, ValidationContext, type Document, type Operation } from "openapi-backend";

import type { Doc } from "./sdk-spec.js";

/** One request and its answer, as they passed through the proxy. */
export interface Exchange {
  method: string;
  /** Path and query exactly as sent, e.g. `/v2/keys/a%2Fb?recursive=true`. */
  url: string;
  requestHeaders: Record<string, string>;
  requestBody: string;
  status: number;
  responseHeaders: Record<string, string>;
  /** The whole body; for a streamed watch, what arrived before it was closed. */
  responseBody: string;
  /** A streamed watch: responseBody is a sequence of JSON lines. */
  stream: boolean;
  operationId: string | undefined;
}

export interface Proxy {
  url: string;
  exchanges: Exchange[];
  violations: string[];
  close(): Promise<void>;
}

// Formats openapi.yaml uses that openapi-backend's Ajv does not define.
const numberFormats: Record<string, (n: number) => boolean> = {
  uint64: (n) => Number.isInteger(n) && n >= 0,
  double: (n) => Number.isFinite(n),
};
/** RFC 3339 date-time, as etcd writes it (fractional seconds optional). */
const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** etcd's strconv.ParseBool, for wait and stream. */
function parseBool(v: string | null): boolean {
  return v !== null && ["1", "t", "T", "true", "TRUE", "True"].includes(v);
}

function flatHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

function readAll(r: IncomingMessage): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    r.on("data", (c: Buffer) => chunks.push(c));
    r.on("end", () => ok(Buffer.concat(chunks)));
    r.on("error", fail);
  });
}

const errorText = (errors: unknown): string => JSON.stringify(errors);

/**
 * A form body as the typed object its schema describes: a field the schema
 * types as integer or boolean is converted when its text is one (decimal
 * digits; true/false), and left as text otherwise, so that validation
 * reports it.
 */
function formValues(form: string, op: Operation): Record<string, unknown> {
  const rb = op.requestBody && "content" in op.requestBody ? op.requestBody : undefined;
  const schema = rb?.content["application/x-www-form-urlencoded"]?.schema;
  const props = (schema && "properties" in schema ? schema.properties : undefined) ?? {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(form)) {
    const p = props[k];
    const type = p && "type" in p ? p.type : undefined;
    out[k] = type === "integer" && /^\d+$/.test(v) ? Number(v) : type === "boolean" && (v === "true" || v === "false") ? v === "true" : v;
  }
  return out;
}

/** Starts the proxy on a free loopback port, in front of upstream (e.g. http://127.0.0.1:2379). */
export async function startProxy(doc: Doc, upstream: string): Promise<Proxy> {
  const api = new OpenAPIBackend({
    definition: structuredClone(doc) as Document,
    strict: true,
    validate: true,
    // Quick mode compiles the validators of an operation when it is first
    // used (all of them up front take about 15 s here) and skips the check
    // of the definition itself, which Redocly makes in spec-check.
    quick: true,
    coerceTypes: true,
    ajvOpts: { strict: false, allErrors: true },
    customizeAjv: (ajv) => {
      for (const [name, validate] of Object.entries(numberFormats)) ajv.addFormat(name, { type: "number", validate });
      ajv.addFormat("date-time", dateTime);
      return ajv;
    },
  });
  await api.init();
  const textAjv = api.validator.getAjv(ValidationContext.Response);
  const textValidators = new Map<object, ReturnType<typeof textAjv.compile>>();
  const up = new URL(upstream);
  const exchanges: Exchange[] = [];
  const violations: string[] = [];

  const server: Server = createServer(async (req, res) => {
    const method = (req.method ?? "GET").toLowerCase();
    const url = req.url ?? "/";
    const u = new URL(url, "http://proxy");
    const requestBody = (await readAll(req)).toString("utf8");
    const requestHeaders = flatHeaders(req.headers);
    const x: Exchange = { method: method.toUpperCase(), url, requestHeaders, requestBody, status: 0, responseHeaders: {}, responseBody: "", stream: false, operationId: undefined };
    exchanges.push(x);
    const where = `${x.method} ${url}`;
    const violation = (msg: string): void => { violations.push(`${where}: ${msg}`); };

    // ---- request
    const query: Record<string, string | string[]> = {};
    for (const k of new Set(u.searchParams.keys())) {
      const all = u.searchParams.getAll(k);
      query[k] = all.length > 1 ? all : all[0]!;
    }
    let op: Operation | undefined;
    try {
      op = api.router.matchOperation({ method, path: u.pathname, headers: requestHeaders, query }, true) as Operation;
    } catch (e) {
      violation(`no operation in the spec: ${(e as Error).message}`);
    }
    if (op) {
      x.operationId = op.operationId;
      const contentType = (requestHeaders["content-type"] ?? "").split(";")[0]!.trim();
      let body: unknown = undefined;
      if (requestBody !== "") {
        if (contentType === "application/json") {
          try { body = JSON.parse(requestBody); } catch { violation("request body is not JSON"); }
        } else if (contentType === "application/x-www-form-urlencoded") {
          body = formValues(requestBody, op);
        }
        const declared = Object.keys(op.requestBody && "content" in op.requestBody ? op.requestBody.content : {});
        if (!declared.includes(contentType)) violation(`request Content-Type ${contentType || "(none)"} not declared (${declared.join(", ") || "no body"})`);
      }
      const v = api.validateRequest({ method, path: u.pathname, headers: requestHeaders, query, ...(body !== undefined ? { body } : {}) }, op);
      if (!v.valid) violation(`request: ${errorText(v.errors)}`);
    }

    // ---- forward
    const headers = { ...req.headers, host: up.host };
    const upReq = httpRequest({ host: up.hostname, port: up.port, method: x.method, path: url, headers });
    res.on("close", () => upReq.destroy());
    upReq.on("error", (e) => {
      if (!res.headersSent) { res.writeHead(502); res.end(String(e)); }
      else res.destroy();
    });
    upReq.on("response", (upRes) => {
      x.status = upRes.statusCode ?? 0;
      x.responseHeaders = flatHeaders(upRes.headers);
      const isStream = x.method === "GET" && x.status === 200 && parseBool(u.searchParams.get("wait")) && parseBool(u.searchParams.get("stream"));
      x.stream = isStream;
      res.writeHead(x.status, upRes.headers);
      res.flushHeaders();
      const response = op ? responseCheck(op, x, violation) : undefined;
      let pending = "";
      upRes.on("data", (c: Buffer) => {
        const s = c.toString("utf8");
        x.responseBody += s;
        res.write(c);
        if (!isStream || !response) return;
        pending += s;
        for (let i = pending.indexOf("\n"); i >= 0; i = pending.indexOf("\n")) {
          const line = pending.slice(0, i);
          pending = pending.slice(i + 1);
          if (line.trim() !== "") response.json(line, "stream event");
        }
      });
      upRes.on("end", () => {
        res.end();
        if (!response) return;
        if (isStream) {
          if (pending.trim() !== "") violation(`stream ended inside an event: ${JSON.stringify(pending)}`);
        } else {
          response.body(x.responseBody);
        }
      });
      upRes.on("error", () => res.destroy());
    });
    upReq.end(requestBody);
  });

  /**
   * Checks status, headers and Content-Type of an answer at once, and
   * returns the checks of its body (whole, or one streamed event).
   */
  function responseCheck(op: Operation, x: Exchange, violation: (m: string) => void): { body(text: string): void; json(text: string, what: string): void } {
    const declared = op.responses?.[String(x.status)] ?? op.responses?.["default"];
    const skip = { body: () => {}, json: () => {} };
    if (!declared || "$ref" in declared) {
      violation(`status ${x.status} is not declared for ${op.operationId}`);
      return skip;
    }
    const h = api.validator.validateResponseHeaders(x.responseHeaders, op, { statusCode: x.status, setMatchType: SetMatchType.Any });
    if (!h.valid) violation(`response headers: ${errorText(h.errors)}`);
    const content = declared.content ?? {};
    const types = Object.keys(content);
    const sent = (x.responseHeaders["content-type"] ?? "").split(";")[0]!.trim();
    const json = (text: string, what: string): void => {
      let value: unknown;
      try { value = JSON.parse(text); } catch { violation(`${what} is not JSON: ${JSON.stringify(text.slice(0, 200))}`); return; }
      const v = api.validator.validateResponse(value, op, x.status);
      if (!v.valid) violation(`${what}: ${errorText(v.errors)}`);
    };
    return {
      json,
      body(text: string): void {
        if (types.length === 0) {
          // No declared content: there must be no body, whatever the label.
          if (text !== "") violation(`a body where the spec declares none: ${JSON.stringify(text.slice(0, 200))}`);
          return;
        }
        if (!types.includes(sent)) { violation(`Content-Type ${sent || "(none)"} not declared (${types.join(", ")})`); return; }
        if (sent === "application/json") {
          // The one documented empty JSON answer: a watch that ended without an event.
          if (text === "" && x.method === "GET" && parseBool(new URL(x.url, "http://p").searchParams.get("wait"))) return;
          json(text, "body");
          return;
        }
        const schema = content[sent]?.schema;
        if (schema && !("$ref" in schema)) {
          let validate = textValidators.get(schema);
          if (!validate) textValidators.set(schema, (validate = textAjv.compile(schema)));
          if (!validate(text)) violation(`${sent} body: ${errorText(validate.errors)}`);
        }
      },
    };
  }

  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    violations,
    close: () => new Promise<void>((ok) => { server.closeAllConnections(); server.close(() => ok()); }),
  };
}
