/**
 * Shared test helpers: temp folders, hashing, an in-process app, a real
 * server process on a free loopback port, and the restic binary.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { type AppHandler, type AppOptions, createApp } from "../lib/http/app.ts";
import { createLogger, type Logger } from "../lib/base/log.ts";
import { FsStorage } from "../lib/storage/fs/storage.ts";
import { MemoryStorage } from "./_memory_storage.ts";
import { sharedStore, storedKeys, storeEnv, storeStorage, SWIFT_HERE } from "./_object_store.ts";
import type { SwiftStore } from "../tools/swift.ts";
import type { Storage } from "../lib/storage/types.ts";
import { PERMISSIONS } from "../tools/compile.ts";

/** The repository root of this project. */
export const PROJECT_ROOT = new URL("..", import.meta.url).pathname;
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A temp folder removed when disposed. */
export async function tempDir(
  prefix = "restic-rest-test-",
): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Lowercase hex SHA-256 of some bytes. */
export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A logger that keeps its lines, for assertions. */
export function memoryLogger(debug = true): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(createLogger({ debug, write: (line) => lines.push(line) }), { lines });
}

/** The storage media the handler tests run against. */
export const MEDIA = ["fs", "memory", "s3"] as const;

/** A storage medium of the tests. */
export type Medium = typeof MEDIA[number];

/** An in-process app on a fresh storage, with a look at what it stored. */
export interface TestApp extends AsyncDisposable {
  app: AppHandler;
  /** The data folder (the file storage's; empty and unused in memory). */
  dir: string;
  log: Logger & { lines: string[] };
  /** Every stored file or key, relative, in restic's layout, sorted. */
  files(): Promise<string[]>;
  /** The stored bytes at a relative path, as text. */
  read(path: string): Promise<string>;
  /** Puts bytes at a relative path behind the server's back (junk, strays, many objects). */
  plant(path: string, text: string): Promise<void>;
}

/**
 * Registers a test for one medium: an object-store test is ignored (and
 * says so) where no store can be started, and runs without the resource
 * sanitizers (its client keeps connections to the store open).
 */
export function mediumTest(medium: Medium): (name: string, fn: () => Promise<void>) => void {
  return (name, fn) =>
    Deno.test({
      name,
      fn,
      ignore: medium === "s3" && !SWIFT_HERE,
      ...(medium === "s3" ? E2E : {}),
    });
}

/**
 * The app on `storage` with the defaults of the tests (uploads verified,
 * nothing append-only or private, no policy), a memory log unless given.
 */
export function appOn(
  storage: Storage,
  options: Partial<Omit<AppOptions, "storage">> = {},
): ReturnType<typeof createApp> {
  return createApp({
    storage,
    log: memoryLogger(),
    verifyUpload: true,
    appendOnly: false,
    privateRepos: false,
    policy: null,
    ...options,
  });
}

/** An in-process app on a fresh data folder, memory storage or bucket. */
export async function testApp(
  options: Partial<Omit<AppOptions, "storage" | "log">> & { medium?: Medium } = {},
): Promise<TestApp> {
  const { medium = "fs", ...appOptions } = options;
  const dir = await tempDir();
  const log = memoryLogger();
  const medium$ = await openMedium(medium, dir.path);
  await medium$.storage.prepare();
  const app = appOn(medium$.storage, { log, ...appOptions });
  return {
    app,
    dir: dir.path,
    log,
    ...medium$.look,
    async [Symbol.asyncDispose]() {
      medium$.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

type Look = Pick<TestApp, "files" | "read" | "plant">;

/** A fresh storage of a medium, and how a test looks at what it stored. */
async function openMedium(
  medium: Medium,
  dir: string,
): Promise<{ storage: Storage; look: Look; close(): void }> {
  const encoder = new TextEncoder();
  if (medium === "memory") {
    const memory = new MemoryStorage();
    return {
      storage: memory,
      close: () => {},
      look: {
        files: () => Promise.resolve([...memory.objects.keys()].sort()),
        read: (path) => Promise.resolve(new TextDecoder().decode(memory.objects.get(path)?.bytes)),
        plant(path, text) {
          memory.objects.set(path, { bytes: encoder.encode(text), mtimeMs: Date.now() });
          return Promise.resolve();
        },
      },
    };
  }
  if (medium === "s3") {
    const { storage, client } = await storeStorage(await sharedStore());
    return {
      storage,
      close: () => client.close(),
      look: {
        files: () => storedKeys(client),
        read: async (path) =>
          await (await client.send({ method: "GET", key: `pre/${path}` })).text(),
        async plant(path, text) {
          const bytes = encoder.encode(text);
          const put = await client.send({ method: "PUT", key: `pre/${path}`, body: bytes });
          await put.body.cancel();
        },
      },
    };
  }
  return {
    storage: new FsStorage(dir),
    close: () => {},
    look: {
      files: () => listFiles(dir),
      read: (path) => Deno.readTextFile(`${dir}/${path}`),
      async plant(path, text) {
        await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
        await Deno.writeTextFile(`${dir}/${path}`, text);
      },
    },
  };
}

/** Sends a request to an in-process app and reads the body as text. */
export async function call(
  app: AppHandler,
  method: string,
  path: string,
  init: { body?: BodyInit | null; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await app(
    new Request(`http://restic-rest.test${path}`, {
      method,
      body: init.body,
      headers: init.headers,
    }),
  );
  const text = await response.text();
  return { status: response.status, headers: response.headers, text };
}

/** Lists every file below a folder, relative, sorted. */
export async function listFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (dir: string, prefix: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const rel = prefix + entry.name;
      if (entry.isDirectory) await visit(`${dir}/${entry.name}`, rel + "/");
      else found.push(rel);
    }
  };
  await visit(root, "");
  return found.sort();
}

/** A server process on loopback. */
export interface ServerProcess extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` */
  url: string;
  address: string;
  process: Deno.ChildProcess;
  /** Every stderr line so far. */
  stderr: string[];
  /** Sends a signal and waits for the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/**
 * Starts `main.ts serve` as a child process and waits for
 * `start server on …` (30 s at most); `openFileLimit` runs it under
 * `ulimit -n`.
 */
export async function startServerProcess(
  args: string[],
  options: { openFileLimit?: number; env?: Record<string, string> } = {},
): Promise<ServerProcess> {
  const hasListen = args.includes("--listen");
  const denoArgs = [
    "run",
    ...PERMISSIONS,
    MAIN,
    "serve",
    ...args,
    ...(hasListen ? [] : ["--listen", "127.0.0.1:0"]),
  ];
  // A lower open-file limit goes through the shell's ulimit, then exec.
  const [command, commandArgs] = options.openFileLimit === undefined
    ? [Deno.execPath(), denoArgs]
    : ["bash", [
      "-c",
      `ulimit -n ${options.openFileLimit} && exec "$@"`,
      "bash",
      Deno.execPath(),
      ...denoArgs,
    ]];
  const process = new Deno.Command(command, {
    args: commandArgs,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
  }).spawn();
  const stderr: string[] = [];
  const { promise: started, resolve, reject } = Promise.withResolvers<string>();
  (async () => {
    const lines = process.stderr.pipeThrough(new TextDecoderStream());
    let pending = "";
    for await (const text of lines) {
      pending += text;
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) {
        stderr.push(line);
        const match = /^start server on (.+)$/.exec(line);
        if (match) resolve(match[1]);
      }
    }
    reject(new Error(`server exited before listening:\n${stderr.join("\n")}`));
  })();
  process.stdout.cancel();
  const timer = setTimeout(() => reject(new Error("server did not start in 30 s")), 30_000);
  let address: string;
  try {
    address = await started;
  } catch (err) {
    try {
      process.kill("SIGKILL");
    } catch { /* gone */ }
    await process.status;
    throw err;
  } finally {
    clearTimeout(timer);
  }
  let exited: Promise<number> | null = null;
  const stop = (signal: Deno.Signal = "SIGTERM"): Promise<number> => {
    exited ??= (async () => {
      try {
        process.kill(signal);
      } catch { /* already gone */ }
      return (await process.status).code;
    })();
    return exited;
  };
  return {
    url: address.startsWith("unix:") ? address : `http://${address}`,
    address,
    process,
    stderr,
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop("SIGKILL");
    },
  };
}

/** Result of a restic run. */
export interface ResticResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `restic` binary with a test password and a private cache. */
export async function restic(
  repo: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<ResticResult> {
  const output = await new Deno.Command("restic", {
    args: ["-r", repo, "--no-cache", ...args],
    env: { RESTIC_PASSWORD: "test-password-1", ...env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs restic and fails with its output when it does not exit 0. */
export async function resticOk(
  repo: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const result = await restic(repo, args, env);
  if (result.code !== 0) {
    throw new Error(
      `restic ${args.join(" ")} exited ${result.code}:\n${result.stderr}\n${result.stdout}`,
    );
  }
  return result.stdout;
}

/** Waits until `check` is true, polling, for at most `ms`. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  ms = 5000,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return await check();
}

/** An in-process app served on a loopback port. */
export async function serveTestApp(
  options: Partial<Omit<AppOptions, "storage" | "log">> = {},
): Promise<{ url: string; port: number; dir: string } & AsyncDisposable> {
  const t = await testApp(options);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, t.app);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    dir: t.dir,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await t[Symbol.asyncDispose]();
    },
  };
}

/**
 * Sends raw bytes on a new TCP connection and returns what comes back until
 * the server closes or `waitMs` passes. `closeAfterSend` hangs up at once.
 */
export async function rawRequest(
  port: number,
  parts: (string | Uint8Array)[],
  options: { closeAfterSend?: boolean; waitMs?: number } = {},
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const encoder = new TextEncoder();
  try {
    for (const part of parts) {
      const bytes = typeof part === "string" ? encoder.encode(part) : part;
      let offset = 0;
      while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
    }
    if (options.closeAfterSend) return "";
    const chunks: string[] = [];
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(65536);
    const timer = setTimeout(() => conn.close(), options.waitMs ?? 2000);
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        chunks.push(decoder.decode(buffer.subarray(0, n)));
      }
    } catch {
      // closed by the timer
    } finally {
      clearTimeout(timer);
    }
    return chunks.join("");
  } finally {
    try {
      conn.close();
    } catch { /* closed already */ }
  }
}

/**
 * POSTs a body with its `Content-Length` on a connection of its own (Deno's
 * `fetch` sends every stream chunked) and returns the answer's status, or 0
 * when the connection broke before an answer.
 */
export async function postWithLength(
  url: string,
  body: ReadableStream<Uint8Array> | Uint8Array,
  length: number,
): Promise<number> {
  const target = new URL(url);
  const conn = await Deno.connect({ hostname: target.hostname, port: Number(target.port) });
  const write = async (bytes: Uint8Array) => {
    let offset = 0;
    while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
  };
  try {
    try {
      await write(new TextEncoder().encode(
        `POST ${target.pathname} HTTP/1.1\r\nhost: ${target.host}\r\n` +
          `content-length: ${length}\r\nconnection: close\r\n\r\n`,
      ));
      if (body instanceof Uint8Array) await write(body);
      else for await (const part of body) await write(part);
    } catch {
      // the server answered early and hung up: its answer is read below
    }
    const buffer = new Uint8Array(4096);
    let head = "";
    while (!head.includes("\r\n")) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      head += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  } finally {
    try {
      conn.close();
    } catch { /* closed already */ }
  }
}

/** Files anywhere below `root` whose names mark an unfinished upload. */
export async function tempFiles(root: string): Promise<string[]> {
  return (await listFiles(root)).filter((f) =>
    f.split("/").pop()!.startsWith(".restic-rest-upload-")
  );
}

/** A seeded pseudo-random generator (LCG) returning numbers in [0, 1), so failures reproduce. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** The output of a finished command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to the end, feeding it `stdin`. */
export async function runCommand(
  command: string,
  args: string[],
  stdin = "",
  env?: Record<string, string>,
): Promise<CommandResult> {
  const child = new Deno.Command(command, {
    args,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin)).catch(() => {});
  await writer.close().catch(() => {});
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs `main.ts` with the server's permissions, as a user runs the program. */
export function runMain(args: string[], stdin = ""): Promise<CommandResult> {
  return runCommand(Deno.execPath(), ["run", ...PERMISSIONS, MAIN, ...args], stdin);
}

/** Options of tests that run processes and sockets across awaits (the sanitizers would flag them). */
export const E2E = { sanitizeResources: false, sanitizeOps: false } as const;

/**
 * A certificate for 127.0.0.1 and localhost where `--tls` looks by default
 * (DIR/public_key and DIR/private_key), signed by a throw-away CA (DIR/ca.pem)
 * that clients are told to trust. A leaf under a CA suits both Go's and
 * rustls' checks; rustls refuses a self-signed CA certificate as a leaf.
 */
export async function makeCertificate(
  dir: string,
): Promise<{ ca: string; cert: string; key: string }> {
  const ca = `${dir}/ca.pem`;
  const cert = `${dir}/public_key`;
  const key = `${dir}/private_key`;
  const openssl = async (args: string[]): Promise<void> => {
    const result = await new Deno.Command("openssl", { args, stdin: "null" }).output();
    if (result.code !== 0) throw new Error(new TextDecoder().decode(result.stderr));
  };
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ecKey,
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    ca,
    "-days",
    "2",
    "-subj",
    "/CN=restic-rest test CA",
  ]);
  await openssl([
    "req",
    ...ecKey,
    "-keyout",
    key,
    "-out",
    `${dir}/leaf.csr`,
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    `${dir}/leaf.csr`,
    "-CA",
    ca,
    "-CAkey",
    `${dir}/ca.key`,
    "-CAcreateserial",
    "-out",
    cert,
    "-days",
    "2",
    "-extfile",
    `${dir}/leaf.ext`,
  ]);
  return { ca, cert, key };
}

/**
 * The real server on `data` without authentication, with these flags
 * (space-separated), on a free loopback port.
 */
export function serveNoAuth(data: { path: string }, flags = ""): Promise<ServerProcess> {
  return startServerProcess([data.path, "--no-auth", ...flags.split(" ").filter(Boolean)]);
}

/** Runs `restic-rest user add NAME --password-stdin` on a data folder. */
export async function addUser(dataDir: string, name: string, password: string): Promise<void> {
  const result = await runMain(
    ["user", "add", name, "--path", dataDir, "--password-stdin"],
    password + "\n",
  );
  if (result.code !== 0) throw new Error(`user add ${name} failed: ${result.stderr}`);
}

/** A test on the real object store: reported as ignored, not passed, where Swift cannot run. */
export function storeTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ...E2E, ignore: !SWIFT_HERE, fn });
}

/** The real server on a location of the store, with the store's credentials (and its CA). */
export function serveOnStore(
  store: SwiftStore,
  url: string,
  flags: string[] = ["--no-auth"],
): Promise<ServerProcess> {
  const ca = store.caFile ? ["--s3-cacert", store.caFile] : [];
  return startServerProcess([url, ...ca, ...flags], {
    env: { ...Deno.env.toObject(), ...storeEnv(store) },
  });
}
