#!/usr/bin/env node
// `make spec-check`: everything that keeps openapi.yaml usable by teams in
// other languages, with one line of result at the end.
//
//   1. lint      Redocly CLI with ../redocly.yaml: zero errors, zero warnings,
//                for openapi.yaml and v3keys/openapi.yaml (the v3 gateway
//                subset the v3 backend uses).
//   2. examples  every operation carries a recorded example (request and
//                response); header examples match their schemas (Redocly
//                checks the body examples).
//   3. types     two generators of different families, side by side, each
//                with 0 warnings: openapi-typescript makes the types
//                spec/etcd-v2.gen.ts, @hey-api/openapi-ts a fetch SDK with a
//                function per operation in spec/sdk/ (only HTTP verbs, none
//                of the requests etcd always refuses). tsc --strict
//                type-checks program.ts, live.test.ts and the recorder
//                against the first (tsconfig.json), the SDK and the program
//                and tests written against it against the second
//                (tsconfig.sdk.json).
//   4. mutant    program.ts must NOT compile against a spec that lost fields
//                it uses (Node.modifiedIndex, Member.clientURLs,
//                UserRequest.password): proves step 3 guards the spec.
//   5. live      node --test runs, against real etcd servers it starts
//                itself (skipped when no etcd binary exists): live.test.ts
//                (program.ts); sdk.test.ts (sdk-program.ts over every
//                operation, on 3.5.35 and 3.4.23 where installed, behind the
//                validating proxy of sdk-proxy.ts, then the second validator
//                of sdk-traffic.ts over the recorded traffic: 0 violations);
//                and sdk-validators.test.ts (both validators do report
//                wrong exchanges).
//   6. docs      docs/api/index.html is what `make docs` makes of the spec now.
//
// Steps 4 to 6 run side by side. Tool output is shown only for a failing
// step. Run from the repository root.

import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const started = Date.now();
let stepStart = started;
const secs = (ms) => (ms / 1000).toFixed(1);
const bin = (name) => join("node_modules", ".bin", name);
const cache = join("node_modules", ".cache", "spec-check");
const env = { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1", FORCE_COLOR: "0" };
const results = [];
const httpMethods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
/** Records a step's result with its duration. */
function done(text) {
  const now = Date.now();
  results.push(`${text} ${secs(now - stepStart)}s`);
  stepStart = now;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, maxBuffer: 64 << 20, ...opts });
  return { status: r.status ?? 1, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}` };
}

/** run, without blocking: for the steps that go side by side. */
const running = new Set();
function runAsync(cmd, args, opts = {}) {
  return new Promise((ok) => {
    const { timeout, ...rest } = opts;
    const p = spawn(cmd, args, { env, ...rest });
    running.add(p);
    let out = "";
    p.stdout.on("data", (b) => { out += b; });
    p.stderr.on("data", (b) => { out += b; });
    const timer = timeout ? setTimeout(() => p.kill("SIGKILL"), timeout) : undefined;
    p.on("error", (e) => { out += String(e); });
    p.on("close", (status) => { running.delete(p); clearTimeout(timer); ok({ status: status ?? 1, out }); });
  });
}

function fail(step, why, output = "") {
  // Steps that still run side by side stop with this one (their own
  // exit handlers stop the etcd servers they started).
  for (const p of running) p.kill("SIGTERM");
  if (output) process.stderr.write(output.replace(/^.*(║|╔|╚).*\n/gm, "") + "\n");
  console.log(`spec-check: FAIL at ${step}: ${why} (${[...results, ""].join("; ")}total ${secs(Date.now() - started)}s)`);
  process.exit(1);
}

function version(pkg) {
  return JSON.parse(readFileSync(join("node_modules", pkg, "package.json"), "utf8")).version;
}

if (!existsSync(bin("redocly"))) {
  fail("setup", "node_modules is missing: run `npm ci` (make spec-check does it when the lock file changed)");
}

// ---- 1. lint
{
  // The v3 gateway's operations keep etcd's own RPC names (range, txn, ...,
  // all POST), so v3keys/redocly.yaml lints it without the v2 verb rules.
  const r = run(bin("redocly"), ["lint", "openapi.yaml", "--format=stylish"]);
  const r3 = run(bin("redocly"), ["lint", "v3keys/openapi.yaml", "--config", "v3keys/redocly.yaml", "--format=stylish"]);
  r.out += r3.out;
  if (r3.status !== 0) r.status = r3.status;
  const problems = r.out.match(/^\s*\d+:\d+\s+(error|warning)\s/gm) ?? [];
  if (r.status !== 0 || problems.length > 0 || /warning/i.test(r.out.replace(/Deprecation warning[^\n]*/g, ""))) {
    fail("lint", `redocly ${version("@redocly/cli")} reported ${problems.length} problem(s)`, r.out);
  }
  done(`lint ok (redocly ${version("@redocly/cli")}, 0 errors, 0 warnings)`);
}

// ---- 2. examples
let operations = 0;
{
  mkdirSync(cache, { recursive: true });
  const bundled = join(cache, "openapi.json");
  const r = run(bin("redocly"), ["bundle", "openapi.yaml", "--ext", "json", "-o", bundled]);
  if (r.status !== 0) fail("examples", "redocly bundle failed", r.out);
  const doc = JSON.parse(readFileSync(bundled, "utf8"));
  const deref = (o) => {
    while (o && typeof o.$ref === "string") {
      o = o.$ref.slice(2).split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~")).reduce((a, k) => a?.[k], doc);
    }
    return o;
  };
  const examplesOf = (holder) => [
    ...(holder?.example !== undefined ? [{ value: holder.example }] : []),
    ...Object.values(holder?.examples ?? {}).map(deref),
  ];
  const problems = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of httpMethods) {
      const op = item[method];
      if (!op) continue;
      operations++;
      const id = op.operationId ?? `${method.toUpperCase()} ${path}`;
      const body = deref(op.requestBody);
      if (body) {
        const n = Object.values(body.content ?? {}).reduce((a, mt) => a + examplesOf(mt).length, 0);
        if (n === 0) problems.push(`${id}: the request body has no example`);
      }
      let responseExamples = 0;
      for (const [status, resp0] of Object.entries(op.responses ?? {})) {
        const resp = deref(resp0);
        for (const mt of Object.values(resp.content ?? {})) responseExamples += examplesOf(mt).length;
        for (const [name, h0] of Object.entries(resp.headers ?? {})) {
          const h = deref(h0);
          for (const ex of examplesOf(h)) {
            responseExamples++;
            const schema = deref(h.schema) ?? {};
            const ok = schema.type === "integer" ? Number.isInteger(ex.value) && (!/^uint/.test(schema.format ?? "") || ex.value >= 0)
              : schema.type === "string" ? typeof ex.value === "string" : true;
            if (!ok) problems.push(`${id} ${status} header ${name}: example ${JSON.stringify(ex.value)} is not a ${schema.format ?? schema.type}`);
          }
        }
      }
      if (responseExamples === 0) problems.push(`${id}: no response carries an example`);
    }
  }
  for (const [name, ex] of Object.entries(doc.components?.examples ?? {})) {
    if (!/^Recorded from etcd /.test(ex.description ?? "")) problems.push(`components/examples/${name}: not recorded (description must say "Recorded from etcd ...")`);
  }
  if (problems.length) fail("examples", `${problems.length} problem(s)`, problems.join("\n"));
  done(`examples ok (${operations}/${operations} operations, ${Object.keys(doc.components?.examples ?? {}).length} recorded)`);
}

// ---- 3. types
{
  const [g, h] = await Promise.all([
    runAsync(bin("openapi-typescript"), ["openapi.yaml", "-o", join("spec", "etcd-v2.gen.ts")]),
    runAsync(bin("openapi-ts"), ["-f", join("spec", "openapi-ts.config.mjs"), "--no-log-file"]),
  ]);
  if (g.status !== 0) fail("types", "openapi-typescript failed", g.out);
  if (h.status !== 0) fail("types", "@hey-api/openapi-ts failed", h.out);
  // Anything but the banner and the progress lines is a warning.
  const plain = (out) => out.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const warnings = [
    ...plain(g.out).filter((l) => !/^(✨ openapi-typescript |🚀 openapi\.yaml → )/.test(l)).map((l) => `openapi-typescript: ${l}`),
    ...plain(h.out).filter((l) => !/^(@hey-api\/openapi-ts v|\[Job \d+\]\s+(⏳ Generating from|\[\d+\] |✅ Done!))/.test(l)).map((l) => `@hey-api/openapi-ts: ${l}`),
  ];
  if (warnings.length) fail("types", `${warnings.length} generator warning(s)`, warnings.join("\n"));
  // The SDK: one function per operation of paths, each sending an HTTP verb,
  // none for a request etcd always refuses.
  const sdkSource = readFileSync(join("spec", "sdk", "sdk.gen.ts"), "utf8");
  const calls = [...sdkSource.matchAll(/^export const (\w+) = [^\n]*\(options\??\.client \?\? client\)\.(\w+)</gm)];
  const specDoc = JSON.parse(readFileSync(join(cache, "openapi.json"), "utf8"));
  const specOps = Object.values(specDoc.paths).flatMap((item) => httpMethods.filter((m) => item[m]).map((m) => item[m].operationId));
  const refused = Object.values(specDoc["x-always-refused"] ?? {}).flatMap((item) => httpMethods.filter((m) => item[m]).map((m) => item[m].operationId));
  const sdkProblems = [
    ...calls.filter(([, , verb]) => !httpMethods.includes(verb)).map(([, fn, verb]) => `${fn} sends HTTP ${verb.toUpperCase()}`),
    ...specOps.filter((id) => !calls.some(([, fn]) => fn === id)).map((id) => `no function for ${id}`),
    ...calls.filter(([, fn]) => !specOps.includes(fn)).map(([, fn]) => `${fn} is no operation of the spec`),
    ...refused.filter((id) => sdkSource.includes(`export const ${id} `)).map((id) => `${id} is offered, but etcd always refuses it`),
  ];
  if (calls.length === 0) sdkProblems.push("no SDK function found in spec/sdk/sdk.gen.ts");
  if (sdkProblems.length) fail("types", "the generated SDK does not match the spec", sdkProblems.join("\n"));
  const [t, ts] = await Promise.all([
    runAsync(bin("tsc"), ["-p", join("spec", "tsconfig.json")]),
    runAsync(bin("tsc"), ["-p", join("spec", "tsconfig.sdk.json")]),
  ]);
  if (t.status !== 0) fail("types", "tsc rejected spec/*.ts against the generated types", t.out);
  if (ts.status !== 0) fail("types", "tsc rejected the generated SDK or the program written against it", ts.out);
  done(`types ok (openapi-typescript ${version("openapi-typescript")} and @hey-api/openapi-ts ${version("@hey-api/openapi-ts")}: 0 warnings, ${calls.length} SDK functions, all HTTP verbs; tsc ${version("typescript")} --strict)`);
}

// ---- 4. to 6., side by side; each reports its own duration.
/** Runs fn and gives its result text with the time it took. */
async function timed(fn) {
  const t0 = Date.now();
  const text = await fn();
  return `${text} ${secs(Date.now() - t0)}s`;
}

// 4. mutant: the program must not compile against a spec without the fields it uses
async function mutant() {
  const dir = join("node_modules", ".cache", "spec-check-mutant");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let spec = readFileSync("openapi.yaml", "utf8");
  const dropProperty = (schema, prop) => {
    const start = spec.indexOf(`\n    ${schema}:\n`);
    if (start < 0) fail("mutant", `schema ${schema} not found`);
    const end = spec.slice(start + 1).search(/\n    \S/) + start + 1;
    const block = spec.slice(start, end);
    const re = new RegExp(`\\n        ${prop}:[^\\n]*(\\n {9,}[^\\n]*)*`);
    if (!re.test(block)) fail("mutant", `property ${schema}.${prop} not found`);
    const cut = block.replace(re, "").replace(new RegExp(`(required: \\[[^\\]]*?)(, ${prop}\\b|\\b${prop}, )`), "$1");
    spec = spec.slice(0, start) + cut + spec.slice(end);
  };
  const lost = [["Node", "modifiedIndex"], ["Member", "clientURLs"], ["UserRequest", "password"]];
  for (const [schema, prop] of lost) dropProperty(schema, prop);
  writeFileSync(join(dir, "openapi.yaml"), spec);
  const g = await runAsync(join(process.cwd(), bin("openapi-typescript")), ["openapi.yaml", "-o", "etcd-v2.gen.ts"], { cwd: dir });
  if (g.status !== 0) fail("mutant", "openapi-typescript failed on the mutated spec", g.out);
  cpSync(join("spec", "program.ts"), join(dir, "program.ts"));
  const tsconfig = JSON.parse(readFileSync(join("spec", "tsconfig.json"), "utf8").replace(/^\s*\/\/.*$/gm, ""));
  tsconfig.compilerOptions = { ...tsconfig.compilerOptions, noEmit: true, typeRoots: [join(process.cwd(), "node_modules", "@types")] };
  delete tsconfig.compilerOptions.outDir;
  delete tsconfig.compilerOptions.incremental;
  delete tsconfig.compilerOptions.tsBuildInfoFile;
  tsconfig.include = ["program.ts", "etcd-v2.gen.ts"];
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
  const t = await runAsync(join(process.cwd(), bin("tsc")), ["-p", "tsconfig.json"], { cwd: dir });
  const missed = lost.filter(([, prop]) => !new RegExp(`'${prop}'`).test(t.out));
  if (t.status === 0 || missed.length) {
    fail("mutant", `program.ts still compiles without ${missed.map(([s, p]) => `${s}.${p}`).join(", ") || "the removed fields"}`, t.out);
  }
  rmSync(dir, { recursive: true, force: true });
  return `mutant rejected (${lost.map(([s, p]) => `${s}.${p}`).join(", ")} removed: tsc fails)`;
}

// 5. live: the Node tests against real etcd servers, and the validators' self-test
async function live() {
  const tests = ["live.test.js", "sdk.test.js", "sdk-validators.test.js"].map((f) => join(cache, f));
  const r = await runAsync(process.execPath, ["--test", "--test-reporter=spec", ...tests], { timeout: 150_000 });
  const count = (what) => Number(r.out.match(new RegExp(`^ℹ ${what} (\\d+)`, "m"))?.[1] ?? NaN);
  const [pass, failed, skipped] = [count("pass"), count("fail"), count("skipped")];
  if (r.status !== 0 || failed !== 0 || Number.isNaN(pass)) fail("live", `node --test: ${pass} passed, ${failed} failed`, r.out);
  const servers = [...new Set([...r.out.matchAll(/against (?:a real )?etcd (\d+\.\d+\.\d+)/g)].map((m) => m[1]))].sort();
  const sdk = [...r.out.matchAll(/^etcd (\S+): (\d+) exchanges, (\d+) operations/gm)].map((m) => `${m[1]}: ${m[2]} exchanges over ${m[3]} operations`);
  // A suite skipped for want of an etcd binary runs no test at all.
  if (skipped > 0) return `live: ${pass} passed, ${skipped} SKIPPED (no etcd binary: set ETCD_BIN)`;
  return `live ok (${pass} passed against etcd ${servers.join(" and ") || "?"}; SDK behind the proxy, 0 violations from the proxy and the second validator: ${sdk.join(", ")})`;
}

// 6. docs
async function docs() {
  const out = join(cache, "index.html");
  const r = await runAsync(bin("redocly"), ["build-docs", "openapi.yaml", "--inlineBundle", "-o", out]);
  if (r.status !== 0) fail("docs", "redocly build-docs failed", r.out);
  const committed = join("docs", "api", "index.html");
  if (!existsSync(committed) || readFileSync(committed, "utf8") !== readFileSync(out, "utf8")) {
    fail("docs", "docs/api/index.html is stale: run `make docs` and commit it");
  }
  return "docs up to date";
}

results.push(...(await Promise.all([timed(mutant), timed(live), timed(docs)])));
console.log(`spec-check: ok in ${secs(Date.now() - started)}s: ${results.join("; ")}`);
