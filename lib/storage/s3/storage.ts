/**
 * Storage in an S3-compatible bucket, in restic's own layout (`s3_keys.ts`),
 * with the promises of the file storage: uploads verified by the store
 * against the object's name (the SHA-256 signed as the payload hash), and by
 * us while they stream where the store was not seen to check it, never an
 * overwrite, a failing store answered 503.
 *
 * Reads ask the store for the size (HEAD), then for the bytes (a ranged
 * GET); listings page through ListObjectsV2 and stream as pages arrive.
 *
 * @module
 */

import { S3Notes } from "./notes.ts";
import { ConfigError } from "../../base/errors.ts";
import type { RepoPath } from "../../base/repo_path.ts";
import type { ObjectType } from "../../base/restic.ts";
import type { S3Client } from "./client.ts";
import { KeyLayout } from "./keys.ts";
import { S3Ops } from "./ops.ts";
import { RepoKeeper } from "./repos.ts";
import { OWNER_METADATA, S3Uploads } from "./upload.ts";
import {
  type CallOptions,
  type CleanupReport,
  type FoundObject,
  type Health,
  type ListOptions,
  type ListPage,
  type LockRef,
  type ObjectRef,
  type OpenedObject,
  type RemoveResult,
  type SaveOptions,
  type SaveResult,
  type ScanOptions,
  type Storage,
  StorageError,
  type UploadBody,
} from "../types.ts";

/** How long a health answer is reused: a flood of probes sends one request. */
const HEALTH_CACHE_MS = 10_000;

/** Storage in a bucket. */
export class S3Storage implements Storage {
  /** A repository takes one empty marker object: no bytes. */
  readonly repoFootprintBytes = 0;
  readonly #ops: S3Ops;
  readonly #keys: KeyLayout;
  readonly #repos: RepoKeeper;
  readonly #uploads: S3Uploads;
  /** Where servers sharing this bucket and prefix tell each other what they stored. */
  readonly notes: S3Notes;
  #health: { at: number; answer: Promise<Health> } | null = null;

  /**
   * @param client The signed client of the bucket.
   * @param prefix The start of every key (`""` or `"prefix/"`).
   * @param options `signPayload: false` sends streamed bodies unsigned, as
   *   to a store that would not check them (the tests use it to show that
   *   our own check alone keeps a wrong body out).
   */
  constructor(client: S3Client, prefix: string, options: { signPayload?: boolean } = {}) {
    this.#ops = new S3Ops(client);
    this.#keys = new KeyLayout(prefix);
    this.#repos = new RepoKeeper(this.#ops, this.#keys);
    this.#uploads = new S3Uploads(this.#ops, this.#keys, this.#repos, options.signPayload ?? true);
    this.notes = new S3Notes(this.#ops, prefix);
  }

  /**
   * Checks that the bucket answers to these credentials (refuses to start
   * with one clear line), then whether the store checks upload hashes.
   */
  async prepare(): Promise<string[]> {
    const where = this.#ops.client.where;
    let status: number;
    try {
      const response = await this.#ops.client.send({ method: "HEAD", key: null });
      await response.body.cancel().catch(() => {});
      status = response.status;
    } catch (err) {
      const why = (err as Error).message.replace(/^cannot reach \S+: /, "");
      throw new ConfigError(`Cannot reach the object store at ${where}: ${why}`);
    }
    if (status === 403 || status === 401) {
      throw new ConfigError(
        `Cannot use the object store at ${where}: it refused the credentials (${status})`,
      );
    }
    if (status === 404) {
      throw new ConfigError(`Cannot use the object store at ${where}: no such bucket`);
    }
    if (status >= 300) {
      throw new ConfigError(`Cannot use the object store at ${where}: it answered ${status}`);
    }
    const checks = await this.#uploads.probeStoreCheck();
    return [
      checks
        ? "uploads: the store refuses a body that does not hash to its name (signed payload hash)"
        : "uploads: the store was not seen to check payload hashes; restic-rest hashes every upload",
    ];
  }

  scan(onObject: (found: FoundObject) => void, options: ScanOptions = {}): Promise<CleanupReport> {
    return this.#repos.walk(onObject, options.signal, options.onRepo);
  }

  repoExists(repo: RepoPath, options: CallOptions = {}): Promise<boolean> {
    return this.#repos.exists(repo, options.signal);
  }

  createRepo(repo: RepoPath, options: CallOptions = {}): Promise<void> {
    return this.#repos.create(repo, options.signal);
  }

  removeRepo(repo: RepoPath, options: CallOptions = {}): Promise<boolean> {
    return this.#repos.remove(repo, options.signal);
  }

  /** Asks the store for the size; the bytes come with a ranged GET when read. */
  async open(
    ref: ObjectRef,
    options: CallOptions & { whole?: boolean } = {},
  ): Promise<OpenedObject> {
    const key = this.#keys.object(ref);
    // Read whole: one GET gives the size and the bytes (a HEAD first would cost a round trip).
    const whole = options.whole ? await openWhole(this.#ops, key, options.signal) : null;
    if (whole) return whole;
    const size = await this.#ops.head(key, options.signal);
    if (size === null) throw new StorageError("NotFound", "open object: not in the store");
    return {
      size,
      body: (start, end) => streamBody(this.#ops, key, start, end, size),
      close: () => {},
    };
  }

  async stat(ref: ObjectRef, options: CallOptions = {}): Promise<number> {
    const size = await this.#ops.head(this.#keys.object(ref), options.signal);
    if (size === null) throw new StorageError("NotFound", "stat object: not in the store");
    return size;
  }

  save(ref: ObjectRef, body: UploadBody, options: SaveOptions): Promise<SaveResult> {
    return this.#uploads.save(ref, body, options);
  }

  /** Deletes an object, asking for its size first (the inventory counts bytes). */
  async remove(ref: ObjectRef, options: CallOptions = {}): Promise<RemoveResult> {
    const key = this.#keys.object(ref);
    const size = await this.#ops.head(key, options.signal);
    if (size === null) return { existed: false, size: null };
    await this.#ops.delete(key, options.signal);
    return { existed: true, size };
  }

  /** Who stored a lock: the metadata stored with it in its PUT. */
  async lockOwner(ref: LockRef, options: CallOptions = {}): Promise<string | null> {
    const owner = await this.#ops.metadata(this.#keys.object(ref), OWNER_METADATA, options.signal);
    if (owner === null) throw new StorageError("NotFound", "lock owner: no such lock");
    return owner ?? null;
  }

  async list(
    repo: RepoPath,
    type: ObjectType,
    withSizes: boolean,
    options: ListOptions = {},
  ): Promise<AsyncIterable<ListPage>> {
    return await this.#repos.listType(repo, type, { withSizes, ...options });
  }

  abortUploads(): Promise<void> {
    this.#uploads.abortAll();
    return Promise.resolve();
  }

  /** Whether the bucket answers; asked at most every 10 s. */
  health(): Promise<Health> {
    const now = Date.now();
    if (!this.#health || now - this.#health.at >= HEALTH_CACHE_MS) {
      this.#health = { at: now, answer: this.#probe() };
    }
    return this.#health.answer;
  }

  async #probe(): Promise<Health> {
    try {
      const response = await this.#ops.client.send({ method: "HEAD", key: null });
      await response.body.cancel().catch(() => {});
      const ok = response.status >= 200 && response.status < 300;
      return {
        ok,
        detail: ok ? "the object store answers" : `the store answered ${response.status}`,
      };
    } catch (err) {
      return { ok: false, detail: `the object store is unreachable: ${(err as Error).message}` };
    }
  }
}

/**
 * The bytes of an object as the store sends them, pulled as the client
 * takes them and counted: a body that ends short errors the stream (the
 * client's connection breaks) rather than ending as if complete. The GET is
 * made before the answer's head goes out, so a store that fails it answers
 * 503, not a broken 200.
 */
async function streamBody(
  ops: S3Ops,
  key: string,
  start: number,
  end: number,
  size: number,
): Promise<ReadableStream<Uint8Array> | Uint8Array<ArrayBuffer>> {
  const length = end - start + 1;
  if (length <= 0) return new Uint8Array(0);
  const whole = start === 0 && end === size - 1;
  return counted((await ops.get(key, whole ? null : [start, end])).body, length);
}

/**
 * An object read whole with one GET: its size from the answer's head, its
 * body that answer's own stream, handed on untouched so the runtime pipes
 * it without JavaScript per chunk. The answer is framed by its
 * `Content-Length`: a store that stops short makes the stream fail, and the
 * client's response (which promises the same length) breaks rather than
 * ends. For a slice it asks again as {@link streamBody} does. 404 is
 * `NotFound`; an answer without that header gives `null` (open as for a slice).
 */
async function openWhole(
  ops: S3Ops,
  key: string,
  signal?: AbortSignal,
): Promise<OpenedObject | null> {
  const response = await ops.send({ method: "GET", key, signal }, "read an object", [404]);
  const length = response.headers["content-length"];
  if (response.status === 404 || length === undefined) {
    await response.body.cancel().catch(() => {});
    if (response.status === 404) {
      throw new StorageError("NotFound", "open object: not in the store");
    }
    return null;
  }
  const size = Number(length);
  let unread: ReadableStream<Uint8Array> | null = response.body;
  const release = () => {
    unread?.cancel().catch(() => {});
    unread = null;
  };
  return {
    size,
    body: (start, end) => {
      if (unread === null || size === 0 || start !== 0 || end !== size - 1) {
        release();
        return streamBody(ops, key, start, end, size);
      }
      const body = unread;
      unread = null;
      return Promise.resolve(body);
    },
    close: release,
  };
}

/** A stream that errors unless exactly `length` bytes come (never a short body that looks whole). */
function counted(
  source: ReadableStream<Uint8Array>,
  length: number,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let received = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (err) {
        controller.error(
          new StorageError("Unavailable", `reading from the store broke off: ${err}`),
        );
        return;
      }
      if (next.done) {
        if (received === length) controller.close();
        else {controller.error(
            new StorageError("Unavailable", `the store sent ${received} of ${length} bytes`),
          );}
        return;
      }
      received += next.value.length;
      controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
