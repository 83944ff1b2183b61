/**
 * The real object store of the tests: OpenStack Swift with its S3 API on
 * loopback (`tools/swift.ts`), started once per test file when first asked
 * for, a fresh bucket per test. Tests that need it are reported as ignored,
 * not passed, where python3-swift or memcached is missing.
 *
 * @module
 */

import { join } from "node:path";
import { S3Storage } from "../../lib/storage/s3/storage.ts";
import { S3Client } from "../../lib/storage/s3/client.ts";
import type { S3Location } from "../../lib/storage/choice.ts";
import { startSwift, type SwiftStore } from "../../tools/swift.ts";

async function succeeds(command: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

/** Whether a Swift store can be started here. */
export const SWIFT_HERE = await succeeds("/usr/bin/python3", ["-c", "import swift"]) &&
  await succeeds("sh", ["-c", "command -v memcached"]);

const stores = new Map<string, Promise<SwiftStore>>();

/**
 * The store the test run shares (tools/test.ts starts one and names it in
 * RESTIC_REST_TEST_SWIFT), as a store that cannot be stopped; `null` when
 * the run has none.
 */
function runStore(): SwiftStore | null {
  const shared = Deno.env.get("RESTIC_REST_TEST_SWIFT");
  if (!shared) return null;
  const store = JSON.parse(shared) as Omit<SwiftStore, "stop" | "start" | "remove" | "discard">;
  const refuse = () => {
    throw new Error("the run's shared store cannot be stopped: use ownStore()");
  };
  return { ...store, caFile: null, stop: refuse, start: refuse, remove: refuse, discard: () => {} };
}

/**
 * The store of this test (one over plain HTTP, one over TLS): the run's
 * shared one where there is one, otherwise one per test file, started on
 * first use. A test that stops its store takes {@link ownStore}.
 */
export function sharedStore(tls = false): Promise<SwiftStore> {
  const run = tls ? null : runStore();
  if (run) return Promise.resolve(run);
  return fileStore(tls ? "tls" : "plain", tls);
}

/** A store of this test file's own, which it may stop and start again. */
export function ownStore(): Promise<SwiftStore> {
  return fileStore("own", false);
}

function fileStore(name: string, tls: boolean): Promise<SwiftStore> {
  let store = stores.get(name);
  if (!store) {
    store = startSwift({ tls });
    stores.set(name, store);
    // Child processes and their data outlive a test file unless removed when it ends; an
    // unload handler runs no more event-loop turns, so the removal must be synchronous.
    let running: SwiftStore | null = null;
    store.then((s) => (running = s), () => {});
    globalThis.addEventListener("unload", () => running?.discard());
  }
  return store;
}

/** The environment that hands the store's credentials to restic-rest (and restic). */
export function storeEnv(store: SwiftStore): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: store.accessKey,
    AWS_SECRET_ACCESS_KEY: store.secretKey,
    AWS_DEFAULT_REGION: store.region,
    AWS_CA_BUNDLE: "",
  };
}

let buckets = 0;

/** A client of a new, empty bucket of the store. */
export async function freshBucket(store: SwiftStore, prefix = ""): Promise<{
  location: S3Location;
  client: S3Client;
  url: string;
}> {
  const bucket = `b${Date.now().toString(36)}${(buckets++).toString(36)}${
    Math.floor(Math.random() * 1e6)
  }`;
  const location = { endpoint: store.endpoint, bucket, prefix };
  const ca = store.caFile ? [await Deno.readTextFile(store.caFile)] : undefined;
  const client = new S3Client(location, {
    accessKeyId: store.accessKey,
    secretAccessKey: store.secretKey,
    region: store.region,
  }, { ca });
  // Right after a start the proxy answers before the account and container servers do.
  let status = 0;
  for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 200));
    const made = await client.send({ method: "PUT", key: null, body: new Uint8Array(0) });
    await made.body.cancel();
    status = made.status;
  }
  if (status !== 200) throw new Error(`cannot create bucket ${bucket}: ${status}`);
  return {
    location,
    client,
    url: `s3:${store.endpoint}/${bucket}${prefix ? `/${prefix.slice(0, -1)}` : ""}`,
  };
}

/** A storage on a new bucket, prepared. */
export async function storeStorage(store: SwiftStore, prefix = "pre/"): Promise<{
  storage: S3Storage;
  client: S3Client;
  url: string;
}> {
  const { client, url } = await freshBucket(store, prefix);
  const storage = new S3Storage(client, prefix);
  await storage.prepare();
  return { storage, client, url };
}

/** Every key of the bucket under `prefix`, relative, sorted; restic-rest's markers left out. */
export async function storedKeys(client: S3Client, prefix = "pre/"): Promise<string[]> {
  const { S3Ops } = await import("../../lib/storage/s3/ops.ts");
  const keys: string[] = [];
  for await (const page of new S3Ops(client).list(prefix)) {
    for (const { key } of page.keys) {
      const name = key.split("/").pop()!;
      if (!name.startsWith(".restic-rest-")) keys.push(key.slice(prefix.length));
    }
  }
  return keys.sort();
}

/** The store's data folder, where its objects' files are (for checks that nothing partial is there). */
export function storeFiles(store: SwiftStore): string {
  return join(store.dir, "devices");
}
