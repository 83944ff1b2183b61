/**
 * The benchmark on an object store: restic-rest and `rclone serve restic`
 * on the same real store (Swift's S3 API on loopback, `tools/swift.ts`),
 * each on a fresh bucket, the same load-generator scenarios, interleaved.
 *
 * @module
 */

import { PERMISSIONS, RUNTIME_FLAGS } from "../tools/compile.ts";
import { startSwift, type SwiftStore } from "../tools/swift.ts";
import { freePort } from "../tools/ports.ts";
import { S3Client } from "../lib/storage/s3/client.ts";
import { type Sample, samplesOf } from "./report.ts";
import { type Result, type Scale, storeScenarios } from "./scenarios.ts";
import { type BenchServer, collectLines, procStatusKib, settled } from "./servers.ts";

async function newBucket(store: SwiftStore, name: string): Promise<S3Client> {
  const client = new S3Client(
    { endpoint: store.endpoint, bucket: name, prefix: "" },
    { accessKeyId: store.accessKey, secretAccessKey: store.secretKey, region: store.region },
  );
  const made = await client.send({ method: "PUT", key: null, body: new Uint8Array(0) });
  await made.body.cancel();
  return client;
}

/** Puts `count` tiny objects into `bench/data/xx/` of a bucket, 16 at a time. */
async function fill(client: S3Client, count: number): Promise<void> {
  const { createHash } = await import("node:crypto");
  const encoder = new TextEncoder();
  for (let i = 0; i < count; i += 16) {
    await Promise.all(Array.from({ length: Math.min(16, count - i) }, async (_, j) => {
      const body = encoder.encode(`restbench-list-${i + j}\n`);
      const name = createHash("sha256").update(body).digest("hex");
      const put = await client.send({
        method: "PUT",
        key: `bench/data/${name.slice(0, 2)}/${name}`,
        body,
      });
      await put.body.cancel();
    }));
  }
}

/** The command line and environment that serve `bucket` on `addr`. */
function serverCommand(
  kind: "restic-rest" | "rclone",
  store: SwiftStore,
  bucket: string,
  addr: string,
): [string, string[], Record<string, string>] {
  const main = new URL("../main.ts", import.meta.url).pathname;
  return kind === "restic-rest"
    ? [Deno.execPath(), [
      "run",
      ...PERMISSIONS,
      ...RUNTIME_FLAGS,
      main,
      "serve",
      `s3:${store.endpoint}/${bucket}`,
      "--listen",
      addr,
      "--no-auth",
    ], {
      AWS_ACCESS_KEY_ID: store.accessKey,
      AWS_SECRET_ACCESS_KEY: store.secretKey,
      AWS_CA_BUNDLE: "",
    }]
    : ["rclone", ["serve", "restic", "--addr", addr, `:s3:${bucket}`], {
      RCLONE_S3_PROVIDER: "Other",
      RCLONE_S3_ENDPOINT: store.endpoint,
      RCLONE_S3_ACCESS_KEY_ID: store.accessKey,
      RCLONE_S3_SECRET_ACCESS_KEY: store.secretKey,
      RCLONE_S3_FORCE_PATH_STYLE: "true",
      AWS_CA_BUNDLE: "",
    }];
}

/** Starts restic-rest or rclone on a bucket of the store. */
async function serveOnStore(
  kind: "restic-rest" | "rclone",
  store: SwiftStore,
  bucket: string,
): Promise<BenchServer> {
  const addr = `127.0.0.1:${freePort()}`;
  const [command, args, env] = serverCommand(kind, store, bucket, addr);
  const child = new Deno.Command(command, {
    args,
    env: { ...Deno.env.toObject(), ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = collectLines(child.stderr);
  const started = performance.now();
  for (let i = 0; i < 600; i++) {
    try {
      await (await fetch(`http://${addr}/`)).body?.cancel();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    kind: kind === "restic-rest" ? "restic-rest" : "rclone",
    url: `http://${addr}`,
    pid: child.pid,
    firstAnswerMs: performance.now() - started,
    lines,
    rssKib: () => procStatusKib(child.pid, "VmRSS"),
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

/**
 * Runs the store scenarios for restic-rest and rclone, interleaved over the rounds.
 *
 * @param restbench The load generator.
 * @param scale Sizes and rounds.
 * @returns The samples, their rows prefixed with `store `.
 */
export async function storeRounds(restbench: string, scale: Scale): Promise<Sample[]> {
  const store = await startSwift();
  const samples: Sample[] = [];
  try {
    for (let round = 1; round <= scale.rounds; round++) {
      const kinds = round % 2 === 0
        ? ["rclone", "restic-rest"] as const
        : ["restic-rest", "rclone"] as const;
      for (const kind of kinds) {
        const bucket = `bench${round}${kind.replace(/[^a-z]/g, "")}${Date.now() % 100000}`;
        const client = await newBucket(store, bucket);
        await fill(client, scale.storeListed);
        client.close();
        const server = await serveOnStore(kind, store, bucket);
        try {
          // As on a disk: measured at rest, once restic-rest has counted what the bucket holds.
          await settled(server);
          const results: Result[] = await storeScenarios(
            restbench,
            server,
            scale,
            scale.storeListed,
          );
          for (const result of results) {
            samples.push(...samplesOf(kind, { ...result, label: `store ${result.label}` }));
          }
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    await store.remove();
  }
  return samples;
}
