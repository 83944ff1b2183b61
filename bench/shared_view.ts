// deno-lint-ignore-file no-console
/**
 * What the shared view of servers on one bucket costs (docs/object-stores.md):
 *
 * - the full listing a server makes at start (and after a peer dies, and
 *   daily): wall time, CPU time and peak memory of the server process, on
 *   the real store (Swift on loopback) with `--objects` objects, or on a
 *   generated listing (`--generated`: a loopback endpoint that answers
 *   ListObjectsV2 pages made up on the fly, for a million objects that the
 *   real store here would take an hour to hold; it measures restic-rest's
 *   side of a listing, not a store's);
 * - the steady requests: three servers idle on the generated endpoint for
 *   `--seconds`, every request counted, scaled to one server and one hour.
 *
 *   deno run -A bench/shared_view.ts --objects 10000
 *   deno run -A bench/shared_view.ts --generated 1000000
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createHash } from "node:crypto";
import { PERMISSIONS, RUNTIME_FLAGS } from "../tools/compile.ts";
import { startSwift } from "../tools/swift.ts";
import { S3Client } from "../lib/storage/s3/client.ts";
import { procStatusKib } from "./servers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A restic data object's key for a number. */
function keyOf(i: number): string {
  const name = createHash("sha256").update(`object-${i}`).digest("hex");
  return `repo/data/${name.slice(0, 2)}/${name}`;
}

/** A note's ETag: changes with its text, as a store's MD5 does. */
function tagOf(text: string): string {
  return createHash("md5").update(text).digest("hex");
}

/**
 * An endpoint that answers as a bucket holding `objects` data objects of
 * one repository (keys in order, 1000 a page), and keeps notes in memory.
 */
function generatedStore(objects: number) {
  const keys = Array.from({ length: objects }, (_, i) => keyOf(i)).sort();
  keys.unshift("repo/config");
  const notes = new Map<string, string>();
  const counts: Record<string, number> = {};
  const count = (what: string) => counts[what] = (counts[what] ?? 0) + 1;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    const key = decodeURIComponent(url.pathname.split("/").slice(2).join("/"));
    const isNote = key.startsWith(".restic-rest-view/") ||
      url.searchParams.get("prefix")?.startsWith(".restic-rest-view/");
    const listing = url.searchParams.has("list-type");
    count(`${listing ? "LIST" : req.method} ${isNote ? "notes" : "objects"}`);
    if (req.method === "PUT") {
      const text = await req.text();
      if (isNote) notes.set(key, text);
      return new Response(null, { status: 200, headers: { etag: `"${text.length}"` } });
    }
    if (req.method === "DELETE") {
      notes.delete(key);
      return new Response(null, { status: 204 });
    }
    if (req.method === "HEAD") return new Response(null, { status: key === "" ? 200 : 404 });
    if (!url.searchParams.has("list-type")) {
      const note = notes.get(key);
      return note === undefined ? new Response("", { status: 404 }) : new Response(note);
    }
    const prefix = url.searchParams.get("prefix") ?? "";
    const after = url.searchParams.get("continuation-token") ?? "";
    const source = prefix === "" ? keys : [...notes.keys()].filter((k) => k.startsWith(prefix));
    let start = 0;
    if (after) {
      let low = 0, high = source.length;
      while (low < high) {
        const mid = (low + high) >> 1;
        if (source[mid] <= after) low = mid + 1;
        else high = mid;
      }
      start = low;
    }
    const page = source.slice(start, start + 1000);
    const truncated = start + 1000 < source.length;
    const contents = page.map((k) =>
      `<Contents><Key>${k}</Key><LastModified>2026-12-01T00:00:00.000Z</LastModified>` +
      `<ETag>"${tagOf(notes.get(k) ?? "")}"</ETag><Size>${
        notes.get(k)?.length ?? 4_000_000
      }</Size></Contents>`
    ).join("");
    return new Response(
      `<?xml version="1.0"?><ListBucketResult><IsTruncated>${truncated}</IsTruncated>` +
        `${truncated ? `<NextContinuationToken>${page.at(-1)}</NextContinuationToken>` : ""}` +
        `${contents}</ListBucketResult>`,
    );
  });
  return { server, counts, endpoint: `http://127.0.0.1:${server.addr.port}` };
}

/** A server process on `location`, with its start-up line's time and its resource use. */
async function startServer(location: string, env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...PERMISSIONS,
      ...RUNTIME_FLAGS,
      MAIN,
      "serve",
      location,
      "--no-auth",
      "--listen",
      "127.0.0.1:0",
    ],
    env: { ...Deno.env.toObject(), ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const started = performance.now();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  let listedMs = 0;
  while (listedMs === 0) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`the server stopped:\n${pending}`);
    pending += value;
    if (/inventory complete/.test(pending)) listedMs = performance.now() - started;
  }
  const peakKib = await procStatusKib(child.pid, "VmHWM");
  const stat = (await Deno.readTextFile(`/proc/${child.pid}/stat`)).split(") ")[1].split(" ");
  const ticks = Number(stat[11]) + Number(stat[12]); // utime + stime
  return {
    listedMs,
    cpuSeconds: ticks / 100,
    peakMib: peakKib / 1024,
    line: /inventory complete[^\n]*/.exec(pending)?.[0] ?? "",
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
      lines.cancel().catch(() => {});
    },
  };
}

/** Fills a bucket of the real store with `count` tiny objects, 32 at a time. */
async function fillSwift(count: number) {
  const store = await startSwift();
  const bucket = `cost${Date.now() % 100000}`;
  const client = new S3Client(
    { endpoint: store.endpoint, bucket, prefix: "" },
    { accessKeyId: store.accessKey, secretAccessKey: store.secretKey, region: store.region },
  );
  (await client.send({ method: "PUT", key: null, body: new Uint8Array(0) })).body.cancel();
  const body = new Uint8Array(16);
  (await client.send({ method: "PUT", key: "repo/config", body })).body.cancel();
  for (let i = 0; i < count; i += 32) {
    await Promise.all(Array.from({ length: Math.min(32, count - i) }, async (_, j) => {
      (await client.send({ method: "PUT", key: keyOf(i + j), body })).body.cancel();
    }));
  }
  const env = {
    AWS_ACCESS_KEY_ID: store.accessKey,
    AWS_SECRET_ACCESS_KEY: store.secretKey,
    AWS_CA_BUNDLE: "",
  };
  return { location: `s3:${store.endpoint}/${bucket}`, env, stop: () => store.stop() };
}

const { values } = parseArgs({
  options: {
    objects: { type: "string" },
    generated: { type: "string" },
    seconds: { type: "string", default: "60" },
  },
});
const env = { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s", AWS_CA_BUNDLE: "" };
if (values.objects) {
  const objects = Number(values.objects);
  const swift = await fillSwift(objects);
  try {
    const server = await startServer(swift.location, swift.env);
    console.log(
      `Swift, ${objects} objects: listed in ${(server.listedMs / 1000).toFixed(1)} s, ` +
        `${server.cpuSeconds.toFixed(1)} s CPU, peak ${server.peakMib.toFixed(0)} MiB ` +
        `(${Math.ceil((objects + 1) / 1000)} LIST requests)\n  ${server.line}`,
    );
    await server.stop();
  } finally {
    await swift.stop();
  }
}
if (values.generated) {
  const objects = Number(values.generated);
  const empty = generatedStore(0);
  const baseline = await startServer(`s3:${empty.endpoint}/bucket`, env);
  console.log(
    `generated listing, empty bucket: ready in ${(baseline.listedMs / 1000).toFixed(1)} s, ` +
      `${baseline.cpuSeconds.toFixed(1)} s CPU, peak ${baseline.peakMib.toFixed(0)} MiB`,
  );
  await baseline.stop();
  await empty.server.shutdown();
  const store = generatedStore(objects);
  const location = `s3:${store.endpoint}/bucket`;
  const one = await startServer(location, env);
  console.log(
    `generated listing, ${objects} objects: listed in ${(one.listedMs / 1000).toFixed(1)} s, ` +
      `${one.cpuSeconds.toFixed(1)} s CPU, peak ${one.peakMib.toFixed(0)} MiB ` +
      `(${store.counts["LIST objects"]} LIST requests)`,
  );
  const others = [await startServer(location, env), await startServer(location, env)];
  const seconds = Number(values.seconds);
  for (const key of Object.keys(store.counts)) delete store.counts[key];
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const perHour = (n: number) => Math.round(n / 3 * 3600 / seconds);
  console.log(
    `three idle servers, ${seconds} s (--sync-interval 10): per server per hour ` +
      Object.entries(store.counts).map(([what, n]) => `${what}: ${perHour(n)}`).join(", "),
  );
  for (const server of [one, ...others]) await server.stop();
  await store.server.shutdown();
}
