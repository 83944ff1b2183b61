/**
 * The app in-process on every storage medium: built, called, served on a port.
 *
 * @module
 */

import { type AppHandler, type AppOptions, createApp } from "../../lib/http/app.ts";
import { createLogger, type Logger } from "../../lib/base/log.ts";
import { FsStorage } from "../../lib/storage/fs/storage.ts";
import type { Storage } from "../../lib/storage/types.ts";
import { listFiles, tempDir } from "./files.ts";
import { MemoryStorage } from "./memory_storage.ts";
import { sharedStore, storedKeys, storeStorage, SWIFT_HERE } from "./object_store.ts";
import { E2E } from "./process.ts";

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
