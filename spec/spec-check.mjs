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
//   3. types     openapi-typescript makes spec/etcd-v2.gen.ts; tsc type-checks
//                program.ts, live.test.ts and the recorder against it.
//   4. mutant    the same program must NOT compile against a spec that lost
//                fields it uses (Node.modifiedIndex, Member.clientURLs,
//                UserRequest.password): proves step 3 guards the spec.
//   5. live      node --test runs live.test.ts against a real etcd that it
//                starts itself (skipped when no etcd binary exists).
//   6. docs      docs/api/index.html is what `make docs` makes of the spec now.
//
// Tool output is shown only for a failing step. Run from the repository root.

import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const started = Date.now();
let stepStart = started;
const secs = (ms) => (ms / 1000).toFixed(1);
const bin = (name) => join("node_modules", ".bin", name);
const cache = join("node_modules", ".cache", "spec-check");
const env = { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1", FORCE_COLOR: "0" };
const results = [];
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

function fail(step, why, output = "") {
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
    for (const method of ["get", "put", "post", "delete", "options", "head", "patch", "trace"]) {
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
  const g = run(bin("openapi-typescript"), ["openapi.yaml", "-o", join("spec", "etcd-v2.gen.ts")]);
  if (g.status !== 0) fail("types", "openapi-typescript failed", g.out);
  const t = run(bin("tsc"), ["-p", join("spec", "tsconfig.json")]);
  if (t.status !== 0) fail("types", "tsc rejected spec/*.ts against the generated types", t.out);
  done(`types ok (openapi-typescript ${version("openapi-typescript")}, tsc ${version("typescript")})`);
}

// ---- 4. mutant: the program must not compile against a spec without the fields it uses
{
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
  const g = run(join(process.cwd(), bin("openapi-typescript")), ["openapi.yaml", "-o", "etcd-v2.gen.ts"], { cwd: dir });
  if (g.status !== 0) fail("mutant", "openapi-typescript failed on the mutated spec", g.out);
  cpSync(join("spec", "program.ts"), join(dir, "program.ts"));
  const tsconfig = JSON.parse(readFileSync(join("spec", "tsconfig.json"), "utf8").replace(/^\s*\/\/.*$/gm, ""));
  tsconfig.compilerOptions = { ...tsconfig.compilerOptions, noEmit: true, typeRoots: [join(process.cwd(), "node_modules", "@types")] };
  delete tsconfig.compilerOptions.outDir;
  delete tsconfig.compilerOptions.incremental;
  delete tsconfig.compilerOptions.tsBuildInfoFile;
  tsconfig.include = ["program.ts", "etcd-v2.gen.ts"];
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
  const t = run(join(process.cwd(), bin("tsc")), ["-p", "tsconfig.json"], { cwd: dir });
  const missed = lost.filter(([, prop]) => !new RegExp(`'${prop}'`).test(t.out));
  if (t.status === 0 || missed.length) {
    fail("mutant", `program.ts still compiles without ${missed.map(([s, p]) => `${s}.${p}`).join(", ") || "the removed fields"}`, t.out);
  }
  rmSync(dir, { recursive: true, force: true });
  done(`mutant rejected (${lost.map(([s, p]) => `${s}.${p}`).join(", ")} removed: tsc fails)`);
}

// ---- 5. live
{
  const r = run(process.execPath, ["--test", "--test-reporter=spec", join(cache, "live.test.js")], { timeout: 120_000 });
  const count = (what) => Number(r.out.match(new RegExp(`^ℹ ${what} (\\d+)`, "m"))?.[1] ?? NaN);
  const [pass, failed] = [count("pass"), count("fail")];
  if (r.status !== 0 || failed !== 0 || Number.isNaN(pass)) fail("live", `node --test: ${pass} passed, ${failed} failed`, r.out);
  const server = r.out.match(/etcd (\d+\.\d+\.\d+)/)?.[1];
  // A suite skipped for want of an etcd binary runs no test at all.
  done(pass === 0 ? "live SKIPPED (no etcd binary: set ETCD_BIN)" : `live ok (${pass} passed against etcd ${server ?? "?"})`);
}

// ---- 6. docs
{
  const out = join(cache, "index.html");
  const r = run(bin("redocly"), ["build-docs", "openapi.yaml", "--inlineBundle", "-o", out]);
  if (r.status !== 0) fail("docs", "redocly build-docs failed", r.out);
  const committed = join("docs", "api", "index.html");
  if (!existsSync(committed) || readFileSync(committed, "utf8") !== readFileSync(out, "utf8")) {
    fail("docs", "docs/api/index.html is stale: run `make docs` and commit it");
  }
  done("docs up to date");
}

console.log(`spec-check: ok in ${secs(Date.now() - started)}s: ${results.join("; ")}`);
