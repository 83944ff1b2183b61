/**
 * A real object store on loopback for the tests and the benchmark:
 * OpenStack Swift (Debian's python3-swift) with its S3 API, one replica on a
 * plain folder, tempauth (with memcached) for the credentials. Everything
 * lives in one scratch folder and on free loopback ports; `stop()` ends it.
 *
 *   deno run -A tools/swift.ts [--tls]   # starts a store and prints how to reach it
 *
 * Needs `apt-get install -y python3-swift memcached` (and openssl for --tls).
 *
 * @module
 */

// A command-line tool as well: printing how to reach the store is its job.
// deno-lint-ignore-file no-console

import { join } from "node:path";
import { freePort } from "./ports.ts";
import { configure, PYTHON } from "./swift_setup.ts";

/** A running store. */
export interface SwiftStore {
  /** `http://127.0.0.1:PORT` or `https://…` */
  endpoint: string;
  /** tempauth's account and user: an access key with a colon, as S3 tools pass it. */
  accessKey: string;
  secretKey: string;
  region: string;
  /** The CA certificate (PEM file) that signed the store's certificate, with --tls. */
  caFile: string | null;
  /** The folder that holds the store's data and configuration. */
  dir: string;
  /** Stops the store (kept data stays in `dir` until `remove()`). */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data (a store that went away and came back). */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  remove(): Promise<void>;
  /**
   * Kills it and removes its folder without waiting on the event loop: for an
   * `unload` handler, where the promises of `remove()` would never settle.
   */
  discard(): void;
}

/** Runs a Swift server (account, container, object or proxy) from its configuration file. */
const SERVER_PY = `
import sys
from swift.common import utils
utils.set_swift_dir(sys.argv[1])
from swift.common.wsgi import run_wsgi
name, conf = sys.argv[2], sys.argv[3]
kwargs = {}
if name == "object-server":
    from swift.obj import server
    kwargs["global_conf_callback"] = server.global_conf_callback
sys.exit(run_wsgi(conf, name, verbose=True, **kwargs))
`;

/**
 * Runs the object updater: an object server that cannot reach the container
 * server in time (under load, or killed) leaves the listing update for later,
 * and this daemon makes it, as it does in every real Swift.
 */
const UPDATER_PY = `
import sys
from swift.common import utils
utils.set_swift_dir(sys.argv[1])
from swift.common.daemon import run_daemon
from swift.obj.updater import ObjectUpdater
run_daemon(ObjectUpdater, sys.argv[2], section_name="object-updater", verbose=True)
`;

/** Waits until the backend servers accept connections (the proxy answers before them). */
async function listening(ports: number[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (const port of ports) {
    while (true) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        break;
      } catch {
        if (Date.now() > deadline) {
          throw new Error(`the object store's server on port ${port} did not start`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

/** Waits until the proxy answers its health check (a few seconds after start); the servers behind may follow a moment later. */
async function healthy(endpoint: string, caFile: string | null): Promise<void> {
  const client = caFile
    ? Deno.createHttpClient({ caCerts: [await Deno.readTextFile(caFile)] })
    : undefined;
  const deadline = Date.now() + 30_000;
  try {
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`${endpoint}/healthcheck`, {
          client,
          signal: AbortSignal.timeout(1000),
        });
        await response.body?.cancel();
        if (response.ok) return;
      } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    client?.close();
  }
  throw new Error(`the object store did not answer at ${endpoint}`);
}

/** Whether a process still runs (a zombie has closed its files: it counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

function killAll(children: Deno.ChildProcess[]): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }
}

/** Kills the servers, waits (bounded, without the event loop) until they are gone, removes `dir`. */
function killAndRemoveSync(children: Deno.ChildProcess[], dir: string): void {
  killAll(children);
  // A killed server may still be writing into the folder until it is gone.
  const deadline = Date.now() + 3000;
  while (children.some((c) => alive(c.pid)) && Date.now() < deadline) { /* spin */ }
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* gone, or held open past the deadline */ }
}

/**
 * Starts a store in a fresh scratch folder.
 *
 * @param options `tls`: serve HTTPS with a certificate from a throw-away CA.
 * @returns The running store.
 */
export async function startSwift(options: { tls?: boolean } = {}): Promise<SwiftStore> {
  const dir = await Deno.makeTempDir({ prefix: "restic-rest-swift-" });
  const [account, container, object, proxy, memcached] = Array.from({ length: 5 }, freePort);
  const caFile = await configure(dir, { account, container, object, proxy, memcached }, options);
  const endpoint = `${caFile ? "https" : "http"}://127.0.0.1:${proxy}`;
  let children: Deno.ChildProcess[] = [];
  const spawn = (command: string, args: string[]) =>
    new Deno.Command(command, { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
  const store: SwiftStore = {
    endpoint,
    accessKey: "test:tester",
    secretKey: "testing",
    region: "us-east-1",
    caFile,
    dir,
    async start() {
      children = [
        spawn("memcached", [
          "-l",
          "127.0.0.1",
          "-p",
          String(memcached),
          "-U",
          "0",
          "-m",
          "16",
          "-u",
          "root",
        ]),
        ...["account", "container", "object", "proxy"].map((name) =>
          spawn(PYTHON, ["-c", SERVER_PY, dir, `${name}-server`, join(dir, `${name}-server.conf`)])
        ),
        spawn(PYTHON, ["-c", UPDATER_PY, dir, join(dir, "object-server.conf")]),
      ];
      await healthy(endpoint, caFile);
      await listening([account, container, object]);
    },
    async stop() {
      const stopping = children;
      killAll(stopping);
      children = [];
      await Promise.all(stopping.map((c) => c.status));
    },
    async remove() {
      await store.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    discard() {
      killAndRemoveSync(children, dir);
      children = [];
    },
  };
  await store.start();
  return store;
}

if (import.meta.main) {
  const store = await startSwift({ tls: Deno.args.includes("--tls") });
  console.log(`object store at ${store.endpoint} (data in ${store.dir})`);
  console.log(`  AWS_ACCESS_KEY_ID=${store.accessKey} AWS_SECRET_ACCESS_KEY=${store.secretKey}`);
  if (store.caFile) console.log(`  CA certificate: ${store.caFile}`);
  console.log("Ctrl-C stops it.");
  Deno.addSignalListener("SIGINT", async () => {
    await store.remove();
    Deno.exit(0);
  });
}
