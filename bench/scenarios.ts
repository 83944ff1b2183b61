/**
 * What the benchmark measures on one server: the load generator's scenarios
 * (uploads, downloads, range reads, small objects, listings), a real restic
 * backup, memory at rest, and a start with a million objects stored.
 *
 * @module
 */

import { join } from "node:path";
import { BENCH_USER, type BenchServer, settled } from "./servers.ts";

/** How big each scenario is. */
export interface Scale {
  blobs: number;
  blobMib: number;
  rangeOps: number;
  smallSeconds: number;
  listObjects: number;
  resticMib: number;
  millionObjects: number;
  /** Objects in the bucket for the object store's listing scenario. */
  storeListed: number;
  /** The restic workloads: MiB backed up (four large files and small ones), small files. */
  workloadMib: number;
  workloadSmallFiles: number;
  /** Clients backing up and restoring at once, and MiB each. */
  clients: number;
  clientMib: number;
  rounds: number;
}

/** The full run: the sizes the performance targets are judged at. */
export const FULL: Scale = {
  blobs: 64,
  blobMib: 16,
  rangeOps: 4000,
  smallSeconds: 10,
  listObjects: 100_000,
  resticMib: 1024,
  millionObjects: 1_000_000,
  storeListed: 10_000,
  workloadMib: 1024,
  workloadSmallFiles: 3000,
  clients: 8,
  clientMib: 64,
  rounds: 2,
};

/** Every scenario at toy sizes, to check the harness. */
export const QUICK: Scale = {
  blobs: 4,
  blobMib: 1,
  rangeOps: 100,
  smallSeconds: 1,
  listObjects: 500,
  resticMib: 8,
  millionObjects: 3000,
  storeListed: 300,
  workloadMib: 16,
  workloadSmallFiles: 50,
  clients: 2,
  clientMib: 2,
  rounds: 1,
};

/** One JSON result line of the load generator, with the label it was given. */
export type Result = Record<string, unknown> & { label: string };

/** Runs the load generator once against `server`'s `bench` repository. */
async function restbench(
  binary: string,
  server: BenchServer,
  label: string,
  args: string[],
): Promise<Result> {
  const auth = server.kind === "restic-rest+auth+log"
    ? ["-user", BENCH_USER.name, "-pass", BENCH_USER.password]
    : [];
  const out = await new Deno.Command(binary, {
    args: [
      "-url",
      `${server.url}/bench`,
      ...auth,
      "-pid",
      String(server.pid),
      "-reset-hwm",
      "-label",
      label,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  try {
    return { ...JSON.parse(lines.at(-1)!), label };
  } catch {
    return { label, error: new TextDecoder().decode(out.stderr).trim().split("\n").pop() };
  }
}

/** The scenarios of one run, in order; `only` keeps those labels. */
export async function runScenarios(
  binary: string,
  server: BenchServer,
  scale: Scale,
  repoDir: string,
  options: { seed: number; only?: string[] },
): Promise<Result[]> {
  const [s1, s2] = [String(options.seed), String(options.seed + 1)];
  const blobs = ["-n", String(scale.blobs), "-size", String(scale.blobMib)];
  const plan: [string, string[]][] = [
    ["upload-c1", ["-scenario", "upload", ...blobs, "-c", "1", "-seed", s1]],
    ["upload-c8", ["-scenario", "upload", ...blobs, "-c", "8", "-seed", s2]],
    ["download-c1", ["-scenario", "download", ...blobs, "-c", "1", "-seed", s1]],
    ["download-c8", ["-scenario", "download", ...blobs, "-c", "8", "-seed", s2]],
    ["range-c8", [
      "-scenario",
      "range",
      ...blobs,
      "-c",
      "8",
      "-seed",
      s2,
      "-ops",
      String(scale.rangeOps),
    ]],
    ["small-c32", ["-scenario", "small", "-c", "32", "-duration", `${scale.smallSeconds}s`]],
    ["list", [
      "-scenario",
      "list",
      "-k",
      String(scale.listObjects),
      "-repo-dir",
      repoDir,
      "-reps",
      "3",
    ]],
  ];
  await restbench(binary, server, "create", ["-create", "-scenario", "create"]);
  const results: Result[] = [];
  for (const [label, args] of plan) {
    if (options.only && !options.only.includes(label)) continue;
    results.push(await restbench(binary, server, label, args));
  }
  for (const seed of [s1, s2]) {
    await restbench(binary, server, "cleanup", ["-scenario", "cleanup", ...blobs, "-seed", seed]);
  }
  return results;
}

/**
 * The scenarios on an object store: uploads, downloads and a listing of
 * `listed` objects already in the bucket (sizes too: v2).
 */
export async function storeScenarios(
  binary: string,
  server: BenchServer,
  scale: Scale,
  listed: number,
): Promise<Result[]> {
  const blobs = ["-n", String(Math.min(scale.blobs, 32)), "-size", String(scale.blobMib)];
  const seed = String(Date.now() % 1_000_000_000);
  const plan: [string, string[]][] = [
    ["upload-c1", ["-scenario", "upload", ...blobs, "-c", "1", "-seed", seed]],
    ["upload-c8", ["-scenario", "upload", ...blobs, "-c", "8", "-seed", `${seed}1`]],
    ["download-c1", ["-scenario", "download", ...blobs, "-c", "1", "-seed", seed]],
    ["download-c8", ["-scenario", "download", ...blobs, "-c", "8", "-seed", `${seed}1`]],
    ["list", ["-scenario", "list", "-k", String(listed), "-reps", "3"]],
  ];
  await restbench(binary, server, "create", ["-create", "-scenario", "create"]);
  const results: Result[] = [];
  for (const [label, args] of plan) results.push(await restbench(binary, server, label, args));
  return results;
}

/**
 * Fills `dir` (a repository folder) with `count` tiny objects in restic's
 * layout, the way the load generator's list scenario names them.
 */
export async function fillRepository(dir: string, count: number): Promise<void> {
  const { createHash } = await import("node:crypto");
  for (const type of ["index", "keys", "locks", "snapshots"]) {
    await Deno.mkdir(join(dir, type), { recursive: true });
  }
  for (let i = 0; i < 256; i++) {
    await Deno.mkdir(join(dir, "data", i.toString(16).padStart(2, "0")), { recursive: true });
  }
  const encoder = new TextEncoder();
  for (let i = 0; i < count; i++) {
    const content = encoder.encode(`restbench-list-${i}\n`);
    const name = createHash("sha256").update(content).digest("hex");
    Deno.writeFileSync(join(dir, "data", name.slice(0, 2), name), content);
  }
}

/** Copies a filled folder with hard links (fast; listings only read). */
export async function linkCopy(from: string, to: string): Promise<void> {
  await Deno.mkdir(join(to, ".."), { recursive: true });
  const out = await new Deno.Command("cp", { args: ["-al", from, to] }).output();
  if (!out.success) throw new Error(`cp -al ${from} ${to} failed`);
}

/** Resident memory at rest: after the first answer and a complete inventory, one second later. */
export async function idleRssMib(server: BenchServer): Promise<number> {
  await settled(server);
  await new Promise((r) => setTimeout(r, 1000));
  return (await server.rssKib()) / 1024;
}

/**
 * A million objects stored: the time to the first answer after the start,
 * then the listing's time and peak memory once the server is at rest.
 */
export async function millionRun(
  binary: string,
  server: BenchServer,
  repoDir: string,
  count: number,
): Promise<Result> {
  await settled(server);
  const listed = await restbench(binary, server, "million", [
    "-scenario",
    "list",
    "-k",
    String(count),
    "-repo-dir",
    repoDir,
    "-reps",
    "1",
  ]);
  return { ...listed, first_answer_ms: server.firstAnswerMs };
}

/** Writes `mib` MiB of incompressible files for a restic backup. */
/** `length` random bytes (incompressible, so restic stores them whole). */
export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let at = 0; at < length; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
}

/**
 * Runs the real restic on a repository with the bench's password and no
 * cache; throws with its error output when it fails.
 */
export async function runRestic(repo: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("restic", {
    args: ["-r", repo, "--no-cache", "-q", ...args],
    env: { RESTIC_PASSWORD: "bench-password", RESTIC_REST_USERNAME: "", RESTIC_REST_PASSWORD: "" },
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`restic ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

export async function makeBackupSource(dir: string, mib: number): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const fileMib = Math.min(16, mib);
  for (let i = 0; i < mib / fileMib; i++) {
    await Deno.writeFile(join(dir, `file-${i}`), randomBytes(fileMib << 20));
  }
}

/** `restic backup` of `source` into `repo` (after `init`); the backup's seconds. */
export async function resticBackup(repo: string, source: string): Promise<number> {
  await runRestic(repo, ["init"]);
  const started = performance.now();
  await runRestic(repo, ["backup", source]);
  return (performance.now() - started) / 1000;
}
