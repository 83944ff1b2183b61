/**
 * The benchmark scenarios. Each drives one server with the same client code
 * (this process's fetch) and returns figures; run.ts puts the two servers side
 * by side.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { BenchServer } from "./servers.ts";
import { mbps, quantile, runPool } from "./stats.ts";

/** How big the run is; `quick` shrinks everything for a smoke test. */
export interface Scale {
  blobs: number;
  blobBytes: number;
  rangeReads: number;
  smallSeconds: number;
  listObjects: number;
  resticBytes: number;
}

/** The sizes the issue asks for. */
export const FULL_SCALE: Scale = {
  blobs: 64,
  blobBytes: 16 << 20,
  rangeReads: 3000,
  smallSeconds: 10,
  listObjects: 100_000,
  resticBytes: 1 << 30,
};

/** A smoke-test run: every scenario, tiny sizes. */
export const QUICK_SCALE: Scale = {
  blobs: 8,
  blobBytes: 1 << 20,
  rangeReads: 100,
  smallSeconds: 1,
  listObjects: 2_000,
  resticBytes: 8 << 20,
};

/** Pseudo-random, incompressible content for blob `index`, the same on every call. */
export class BlobSet {
  readonly ids: string[] = [];
  readonly #base: Uint8Array<ArrayBuffer>;

  constructor(readonly count: number, readonly size: number) {
    this.#base = new Uint8Array(size);
    for (let offset = 0; offset < size; offset += 65536) {
      crypto.getRandomValues(this.#base.subarray(offset, Math.min(size, offset + 65536)));
    }
    for (let i = 0; i < count; i++) {
      this.ids.push(createHash("sha256").update(this.content(i)).digest("hex"));
    }
  }

  /** Blob `index`: the base with its index in the first bytes (a fresh copy). */
  content(index: number): Uint8Array<ArrayBuffer> {
    const copy = this.#base.slice();
    new DataView(copy.buffer).setUint32(0, index);
    return copy;
  }
}

/** Throughput and latency of a batch of transfers. */
export interface TransferResult {
  /** Resident memory just before the transfers began. */
  idleRss: number;
  mbPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  peakRss: number;
}

async function createRepo(server: BenchServer, repo: string): Promise<void> {
  const response = await fetch(`${server.url}/${repo}/?create=true`, { method: "POST" });
  await response.body?.cancel();
  if (response.status !== 200) {
    throw new Error(`${server.name}: create ${repo}: ${response.status}`);
  }
}

/** POSTs every blob of the set to `repo` with `concurrency` parallel clients. */
export async function upload(
  server: BenchServer,
  repo: string,
  blobs: BlobSet,
  concurrency: number,
): Promise<TransferResult> {
  await createRepo(server, repo);
  await server.resetPeak();
  const idleRss = await server.rss();
  const latencies: number[] = [];
  const started = performance.now();
  await runPool([...blobs.ids.keys()], concurrency, async (i) => {
    const body = blobs.content(i);
    const t0 = performance.now();
    const response = await fetch(`${server.url}/${repo}/data/${blobs.ids[i]}`, {
      method: "POST",
      body,
    });
    await response.body?.cancel();
    if (response.status !== 200) throw new Error(`${server.name}: upload: ${response.status}`);
    latencies.push(performance.now() - t0);
  });
  const elapsed = performance.now() - started;
  return {
    idleRss,
    mbPerSecond: mbps(blobs.count * blobs.size, elapsed),
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    peakRss: await server.peakRss(),
  };
}

/** GETs every blob whole with `concurrency` parallel clients. */
export async function download(
  server: BenchServer,
  repo: string,
  blobs: BlobSet,
  concurrency: number,
): Promise<TransferResult> {
  await server.resetPeak();
  const idleRss = await server.rss();
  const latencies: number[] = [];
  let bytes = 0;
  const started = performance.now();
  await runPool([...blobs.ids.keys()], concurrency, async (i) => {
    const t0 = performance.now();
    const response = await fetch(`${server.url}/${repo}/data/${blobs.ids[i]}`);
    for await (const chunk of response.body!) bytes += chunk.length;
    latencies.push(performance.now() - t0);
  });
  const elapsed = performance.now() - started;
  if (bytes !== blobs.count * blobs.size) throw new Error(`${server.name}: short download`);
  return {
    idleRss,
    mbPerSecond: mbps(bytes, elapsed),
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    peakRss: await server.peakRss(),
  };
}

/** Restore-like reads: `Range` of 4 KiB to 1 MiB at random offsets. */
export async function ranges(
  server: BenchServer,
  repo: string,
  blobs: BlobSet,
  reads: number,
  concurrency: number,
): Promise<{ requestsPerSecond: number; mbPerSecond: number; peakRss: number }> {
  await server.resetPeak();
  let seed = 12345;
  const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const plan = Array.from({ length: reads }, () => {
    const length = Math.floor(4096 + random() * ((1 << 20) - 4096));
    const start = Math.floor(random() * (blobs.size - length));
    return { id: blobs.ids[Math.floor(random() * blobs.count)], start, end: start + length - 1 };
  });
  let bytes = 0;
  const started = performance.now();
  await runPool(plan, concurrency, async ({ id, start, end }) => {
    const response = await fetch(`${server.url}/${repo}/data/${id}`, {
      headers: { range: `bytes=${start}-${end}` },
    });
    if (response.status !== 206) throw new Error(`${server.name}: range: ${response.status}`);
    for await (const chunk of response.body!) bytes += chunk.length;
  });
  const elapsed = performance.now() - started;
  return {
    requestsPerSecond: reads / (elapsed / 1000),
    mbPerSecond: mbps(bytes, elapsed),
    peakRss: await server.peakRss(),
  };
}

/** Lock-sized objects: POST, HEAD, GET, DELETE in a loop for `seconds`. */
export async function smallObjects(
  server: BenchServer,
  repo: string,
  seconds: number,
  concurrency: number,
): Promise<{ requestsPerSecond: number; p99Ms: number; peakRss: number }> {
  await createRepo(server, repo);
  await server.resetPeak();
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const timed = async (request: () => Promise<Response>, expect: number): Promise<void> => {
    const t0 = performance.now();
    const response = await request();
    await response.arrayBuffer();
    if (response.status !== expect) throw new Error(`${server.name}: small: ${response.status}`);
    latencies.push(performance.now() - t0);
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const body = crypto.getRandomValues(new Uint8Array(200));
      const url = `${server.url}/${repo}/locks/${createHash("sha256").update(body).digest("hex")}`;
      await timed(() => fetch(url, { method: "POST", body }), 200);
      await timed(() => fetch(url, { method: "HEAD" }), 200);
      await timed(() => fetch(url), 200);
      await timed(() => fetch(url, { method: "DELETE" }), 200);
    }
  }));
  const elapsed = performance.now() - started;
  return {
    requestsPerSecond: latencies.length / (elapsed / 1000),
    p99Ms: quantile(latencies, 0.99),
    peakRss: await server.peakRss(),
  };
}

/** Writes `count` objects straight into `<dir>/<repo>/data/xx/`, as a big repository has them. */
export async function fillListRepo(dir: string, repo: string, count: number): Promise<void> {
  for (const sub of ["data", "index", "keys", "locks", "snapshots"]) {
    await Deno.mkdir(`${dir}/${repo}/${sub}`, { recursive: true });
  }
  for (let i = 0; i < 256; i++) {
    await Deno.mkdir(`${dir}/${repo}/data/${i.toString(16).padStart(2, "0")}`, { recursive: true });
  }
  const names = Array.from(
    { length: count },
    (_, i) => createHash("sha256").update(`list-${i}`).digest("hex"),
  );
  await runPool(names, 64, async (name) => {
    await Deno.writeFile(`${dir}/${repo}/data/${name.slice(0, 2)}/${name}`, new Uint8Array(10));
  });
}

/** Lists `data/` (v1 or v2): the whole time and the time to the first byte of the body. */
export async function list(
  server: BenchServer,
  repo: string,
  v2: boolean,
  expected: number,
): Promise<{ seconds: number; firstByteMs: number; peakRss: number } | null> {
  await server.resetPeak();
  const started = performance.now();
  const response = await fetch(`${server.url}/${repo}/data/`, {
    headers: v2 ? { accept: "application/vnd.x.restic.rest.v2" } : {},
  });
  const reader = response.body!.getReader();
  let firstByteMs = NaN;
  let text = "";
  const decoder = new TextDecoder();
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    if (Number.isNaN(firstByteMs)) firstByteMs = performance.now() - started;
    text += decoder.decode(value, { stream: true });
  }
  const seconds = (performance.now() - started) / 1000;
  if (!v2 && !text.startsWith("[")) return null; // rclone 1.60 answers "Restic v2 API required"
  const entries = JSON.parse(text);
  if (entries.length !== expected) {
    throw new Error(`${server.name}: listed ${entries.length} of ${expected}`);
  }
  return { seconds, firstByteMs, peakRss: await server.peakRss() };
}

/** The disk's ceiling for verified durable uploads: files written with an fsync after each. */
export async function diskLimit(dir: string, blobs: BlobSet): Promise<number> {
  await Deno.mkdir(`${dir}/disk-limit`, { recursive: true });
  const started = performance.now();
  for (let i = 0; i < blobs.count; i++) {
    using file = await Deno.open(`${dir}/disk-limit/${i}`, { write: true, create: true });
    const data = blobs.content(i);
    let offset = 0;
    while (offset < data.length) offset += await file.write(data.subarray(offset));
    await file.sync();
  }
  const elapsed = performance.now() - started;
  await Deno.remove(`${dir}/disk-limit`, { recursive: true });
  return mbps(blobs.count * blobs.size, elapsed);
}

/** Writes a tree of incompressible files totalling about `bytes`, for restic to back up. */
export async function makeResticTree(dir: string, bytes: number): Promise<void> {
  const fileBytes = Math.min(4 << 20, Math.max(1 << 16, Math.floor(bytes / 256)));
  const buffer = new Uint8Array(fileBytes);
  for (let written = 0, i = 0; written < bytes; written += fileBytes, i++) {
    for (let offset = 0; offset < fileBytes; offset += 65536) {
      crypto.getRandomValues(buffer.subarray(offset, Math.min(fileBytes, offset + 65536)));
    }
    await Deno.mkdir(`${dir}/d${i % 16}`, { recursive: true });
    await Deno.writeFile(`${dir}/d${i % 16}/f${i}.bin`, buffer);
  }
  for (let i = 0; i < 500; i++) {
    await Deno.writeTextFile(`${dir}/d${i % 16}/small-${i}.txt`, `small file ${i}\n`);
  }
}

/** Times `restic init` + `restic backup` of `source` into `repo`; returns the backup's seconds. */
export async function resticBackup(
  repo: string,
  source: string,
  cacheDir: string,
): Promise<number> {
  const env = { RESTIC_PASSWORD: "bench", RESTIC_CACHE_DIR: cacheDir };
  const run = async (args: string[]): Promise<void> => {
    const out = await new Deno.Command("restic", {
      args: ["-r", repo, ...args],
      env,
      stdin: "null",
    }).output();
    if (out.code !== 0) {
      throw new Error(`restic ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  await run(["init"]);
  const started = performance.now();
  await run(["backup", "--quiet", source]);
  return (performance.now() - started) / 1000;
}
