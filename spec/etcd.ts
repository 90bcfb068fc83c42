// Starts throwaway etcd servers (v2 API on) on free loopback ports for the
// live test and the example recorder, and stops them again. Nothing here
// talks to any address but 127.0.0.1.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: the nearest directory above this file with openapi.yaml. */
export const repoRoot = ((): string => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, "openapi.yaml"))) {
    const up = resolve(d, "..");
    if (up === d) throw new Error("openapi.yaml not found above " + fileURLToPath(import.meta.url));
    d = up;
  }
  return d;
})();

/**
 * Finds the etcd binaries that serve the v2 API: $ETCD_BIN alone when it is
 * set; otherwise the project's etcd 3.5.35, built once and cached by
 * `cd tests && go run ./cmd/buildetcd` (the same binary `make test` uses),
 * and Debian's etcd 3.4 at /usr/bin/etcd (or /usr/local/bin/etcd), each
 * when present. Empty when there is none.
 */
export function findAllEtcd(): string[] {
  const fromEnv = process.env["ETCD_BIN"];
  if (fromEnv) return [fromEnv];
  const found: string[] = [];
  const testsDir = join(repoRoot, "tests");
  if (existsSync(join(testsDir, "cmd", "buildetcd"))) {
    const r = spawnSync("go", ["run", "./cmd/buildetcd"], { cwd: testsDir, encoding: "utf8", timeout: 300_000 });
    const path = r.stdout?.trim().split("\n").pop();
    if (r.status === 0 && path && existsSync(path)) found.push(path);
  }
  const system = ["/usr/bin/etcd", "/usr/local/bin/etcd"].find((p) => existsSync(p));
  if (system) found.push(system);
  return found;
}

/** The first of findAllEtcd (the project's 3.5.35 when it can be built), or undefined. */
export function findEtcd(): string | undefined {
  return findAllEtcd()[0];
}

/** The version etcd reports for itself, e.g. "3.5.35". */
export function etcdVersion(bin: string): string {
  const out = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout ?? "";
  return out.match(/etcd Version:\s*(\S+)/)?.[1] ?? "unknown";
}

/** Returns n distinct free TCP ports on 127.0.0.1. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((ok, fail) => {
      const s = createServer();
      s.once("error", fail);
      s.listen(0, "127.0.0.1", () => ok(s));
    })),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === "string") throw new Error("no port");
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((ok) => s.close(() => ok()))));
  return ports;
}

export interface Member {
  name: string;
  clientURL: string;
  peerURL: string;
}

export interface Cluster {
  members: Member[];
  /** Client URL of the first member. */
  url: string;
  /** The server's version, e.g. "3.5.35". */
  version: string;
  /** Date.now() when the servers were spawned. */
  startedAt: number;
  /** Stops the i-th server (0-based) and waits until it has exited. */
  stopMember(i: number): Promise<void>;
  /** Stops every server and removes the data directories. */
  stop(): Promise<void>;
}

/** Starts an n-member cluster and waits until it has a leader. */
export async function startCluster(bin: string, n = 1): Promise<Cluster> {
  const ports = await freePorts(2 * n);
  const members: Member[] = Array.from({ length: n }, (_, i) => ({
    name: `m${i + 1}`,
    clientURL: `http://127.0.0.1:${ports[2 * i]}`,
    peerURL: `http://127.0.0.1:${ports[2 * i + 1]}`,
  }));
  const initial = members.map((m) => `${m.name}=${m.peerURL}`).join(",");
  const dir = mkdtempSync(join(tmpdir(), "goetcd-spec-"));
  const procs: ChildProcess[] = [];
  const startedAt = Date.now();
  const logs: string[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off("exit", killAll);
    await Promise.all(procs.map(terminate));
    rmSync(dir, { recursive: true, force: true });
  };
  const killAll = (): void => { for (const p of procs) p.kill("SIGKILL"); };
  const stopMember = async (i: number): Promise<void> => {
    const p = procs[i];
    if (!p) throw new Error(`no member ${i}`);
    await terminate(p);
  };
  process.on("exit", killAll);
  for (const m of members) {
    const p = spawn(bin, [
      "--name", m.name,
      "--data-dir", join(dir, m.name),
      "--enable-v2=true",
      "--listen-client-urls", m.clientURL, "--advertise-client-urls", m.clientURL,
      "--listen-peer-urls", m.peerURL, "--initial-advertise-peer-urls", m.peerURL,
      "--initial-cluster", initial, "--initial-cluster-token", "goetcd-spec",
      "--initial-cluster-state", "new",
      "--listen-metrics-urls", "",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    p.stderr?.on("data", (b: Buffer) => { logs.push(b.toString()); if (logs.length > 200) logs.shift(); });
    procs.push(p);
  }
  const version = etcdVersion(bin);
  const deadline = Date.now() + 20_000;
  try {
    for (;;) {
      const exited = procs.find((p) => p.exitCode !== null);
      if (exited) throw new Error(`etcd exited with ${exited.exitCode}:\n${logs.join("").slice(-2000)}`);
      if (await leaderEverywhere(members)) break;
      if (Date.now() > deadline) throw new Error(`etcd did not elect a leader in 20 s:\n${logs.join("").slice(-2000)}`);
      await sleep(100);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { members, url: members[0]!.clientURL, version, startedAt, stopMember, stop };
}

function terminate(p: ChildProcess): Promise<void> {
  return new Promise<void>((ok) => {
    if (p.exitCode !== null || p.signalCode !== null) return ok();
    const hard = setTimeout(() => p.kill("SIGKILL"), 3000);
    p.once("exit", () => { clearTimeout(hard); ok(); });
    p.kill("SIGTERM");
  });
}

async function leaderEverywhere(members: Member[]): Promise<boolean> {
  for (const m of members) {
    try {
      const r = await fetch(`${m.clientURL}/v2/members/leader`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status !== 200) return false;
    } catch {
      return false;
    }
  }
  return true;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}
