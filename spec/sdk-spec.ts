// Loads ../openapi.yaml for the validating proxy and the traffic check, with
// the requests etcd always refuses (the top-level x-always-refused extension,
// in the shape of `paths`) merged into its paths, as the Go contract tests
// do: they are no operations a generator offers, but what the server answers
// to them is still checked.

import { readFileSync } from "node:fs";
import { join } from "node:path";

import { load } from "js-yaml";

import { repoRoot } from "./etcd.js";

/** The HTTP methods an OpenAPI path item can hold. */
export const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

/** The extension of openapi.yaml that holds the refused requests. */
export const refusedExtension = "x-always-refused";

// A loosely typed OpenAPI 3.0 document: both validators walk it themselves.
export type Doc = Record<string, any>;

/** Operation ids of the refused requests, which a generated SDK must not offer. */
export function refusedOperationIds(doc: Doc): string[] {
  const ids: string[] = [];
  for (const item of Object.values<Doc>(doc[refusedExtension] ?? {})) {
    for (const m of methods) if (item[m]?.operationId) ids.push(item[m].operationId as string);
  }
  return ids;
}

/** Operation ids of `paths`: with loadSpec's document, the refused ones too. */
export function operationIds(doc: Doc): string[] {
  const ids: string[] = [];
  for (const item of Object.values<Doc>(doc["paths"] ?? {})) {
    for (const m of methods) if (item[m]?.operationId) ids.push(item[m].operationId as string);
  }
  return ids;
}

/**
 * Returns openapi.yaml with the refused requests merged into `paths` (the
 * extension stays, so that refusedOperationIds still names them). A refused
 * request on an unknown path, or on a method the path already has, is an
 * error.
 */
export function loadSpec(path = join(repoRoot, "openapi.yaml")): Doc {
  const doc = load(readFileSync(path, "utf8")) as Doc;
  const refused = (doc[refusedExtension] ?? {}) as Record<string, Doc>;
  for (const [p, item] of Object.entries(refused)) {
    const target = doc["paths"]?.[p] as Doc | undefined;
    if (!target) throw new Error(`${refusedExtension}: ${p} is not a path of the spec`);
    for (const m of methods) {
      if (!item[m]) continue;
      if (target[m]) throw new Error(`${refusedExtension}: ${m.toUpperCase()} ${p} is also an operation`);
      target[m] = item[m];
    }
  }
  return doc;
}
