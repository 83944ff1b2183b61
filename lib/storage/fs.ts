/**
 * Storage on the local file system, laid out exactly as rest-server does:
 * `<root>/<repo…>/{config,data/xx/<name>,index/<name>,…}`. Every write goes
 * through a temp file that is hashed, fsynced and then linked into place.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { dirname, ensureDir, errorCode, existsSync, join, syncDir } from "../fs_util.ts";
import { isValidRepoSegment, type RepoPath } from "../repo_path.ts";
import {
  dataSubfolders,
  isObjectName,
  isObjectType,
  MAX_REPO_DEPTH,
  OBJECT_TYPES,
  type ObjectType,
  TEMP_FILE_PREFIX,
} from "../restic.ts";
import {
  type FoundObject,
  type ObjectInfo,
  type ObjectRef,
  type OpenedObject,
  type RecoveryReport,
  type SaveOptions,
  type SaveResult,
  type Storage,
  StorageError,
} from "./types.ts";

/** Options of {@link FsStorage}. */
export interface FsStorageOptions {
  /** Folders 0770 and files 0660 instead of 0700 and 0600. */
  groupAccessible?: boolean;
}

/** Bytes gathered before one write call: fewer, larger writes. */
const WRITE_BUFFER_BYTES = 256 << 10;
/** Bytes per read call when streaming a bounded slice (restic's range reads are at most a few MiB). */
const READ_CHUNK_BYTES = 256 << 10;
/** How many `stat` calls a v2 listing runs at once. */
const LIST_STAT_BATCH = 128;

/**
 * Turns an error of a file operation into a {@link StorageError}: missing is
 * `NotFound`, a full disk or quota `NoSpace`, anything else `Io` (500).
 *
 * @param err What the file operation threw.
 * @param action What was being done, for the log.
 * @returns The storage error.
 */
export function toStorageError(err: unknown, action: string): StorageError {
  if (err instanceof StorageError) return err;
  if (err instanceof Deno.errors.NotFound) {
    return new StorageError("NotFound", `${action}: not found`);
  }
  const code = errorCode(err);
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new StorageError("NoSpace", `${action}: no space left (${code})`, { cause: err });
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new StorageError("Io", `${action}: ${reason}`, { cause: err });
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await file.write(data.subarray(offset));
}

/** Bytes written before a background flush starts (see {@link DurableFile}). */
const EARLY_SYNC_BYTES = 4 << 20;

/**
 * A file being written for an upload. With plenty of RAM the kernel flushes
 * nothing until our final fsync, so the disk would idle while the body
 * streams in and then take the whole flush at the end; starting an
 * `fdatasync` in the background every few MiB keeps it busy meanwhile.
 */
class DurableFile {
  #unsynced = 0;
  #syncing: Promise<void> | null = null;
  #error: unknown = null;

  constructor(readonly file: Deno.FsFile) {}

  async write(data: Uint8Array): Promise<void> {
    await writeAll(this.file, data);
    this.#unsynced += data.length;
    if (this.#unsynced >= EARLY_SYNC_BYTES && !this.#syncing) {
      this.#unsynced = 0;
      this.#syncing = this.file.syncData()
        .catch((err) => void (this.#error = err))
        .finally(() => (this.#syncing = null));
    }
  }

  /** Makes everything written durable. */
  async sync(): Promise<void> {
    if (this.#syncing) await this.#syncing;
    if (this.#error) throw this.#error;
    await this.file.syncData();
  }

  /** Waits for a background flush, so the file can be closed. */
  async settle(): Promise<void> {
    if (this.#syncing) await this.#syncing;
  }
}

function clientGone(err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  return new StorageError("IncompleteBody", "the client stopped sending the body", { cause: err });
}

/** Waits for a body read, failing with `Timeout` when nothing arrives in `idleMs`. */
async function readWithin<T>(read: Promise<T>, idleMs: number | undefined): Promise<T> {
  if (idleMs === undefined) return await read;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new StorageError("Timeout", `no body bytes for ${idleMs / 1000} s`)),
      idleMs,
    );
  });
  try {
    return await Promise.race([read, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Streams a request body into `file` (or only through `hash` when `file` is
 * null), calling `onReceive` with the running total. The body is read with a
 * BYOB reader into two reused buffers: no allocation per chunk, and the disk
 * write of one buffer overlaps the network read into the other. Reading
 * errors mean the client went away; writing errors are the disk's.
 *
 * @returns The number of bytes received.
 */
async function receiveBody(
  body: ReadableStream<Uint8Array> | null,
  file: DurableFile | null,
  hash: Hash | null,
  onReceive?: (totalBytes: number) => void,
  idleMs?: number,
): Promise<number> {
  if (body === null) return 0;
  let reader: ReadableStreamBYOBReader;
  try {
    reader = body.getReader({ mode: "byob" });
  } catch {
    return await receiveChunks(body, file, hash, onReceive, idleMs); // not a byte stream
  }
  let current: Uint8Array = new Uint8Array(WRITE_BUFFER_BYTES);
  let spare: Uint8Array | null = file ? new Uint8Array(WRITE_BUFFER_BYTES) : null;
  let filled = 0;
  let total = 0;
  let writing: Promise<void> | null = null;
  let writeError: unknown = null;
  const flush = async (): Promise<void> => {
    if (writing) await writing;
    if (writeError) throw writeError;
  };
  try {
    while (true) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        const view = new Uint8Array(current.buffer as ArrayBuffer, filled, current.length - filled);
        result = await readWithin(reader.read(view), idleMs);
      } catch (err) {
        throw clientGone(err);
      }
      if (result.value) current = new Uint8Array(result.value.buffer); // the view was transferred
      if (result.done) break;
      const chunk = result.value!;
      total += chunk.length;
      onReceive?.(total);
      hash?.update(chunk);
      filled += chunk.length;
      if (filled < current.length) continue;
      if (file && spare) {
        await flush();
        const full = current;
        writing = file.write(full).catch((err) => void (writeError = err));
        current = spare;
        spare = full;
      }
      filled = 0;
    }
    await flush();
    if (file && filled > 0) await file.write(current.subarray(0, filled));
    return total;
  } catch (err) {
    await reader.cancel().catch(() => {});
    if (writing) await writing;
    throw err;
  } finally {
    reader.releaseLock();
  }
}

/** The same for a stream that is not a byte stream: chunk by chunk. */
async function receiveChunks(
  body: ReadableStream<Uint8Array>,
  file: DurableFile | null,
  hash: Hash | null,
  onReceive?: (totalBytes: number) => void,
  idleMs?: number,
): Promise<number> {
  const reader = body.getReader();
  let total = 0;
  try {
    while (true) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await readWithin(reader.read(), idleMs);
      } catch (err) {
        throw clientGone(err);
      }
      if (result.done) return total;
      total += result.value.length;
      onReceive?.(total);
      hash?.update(result.value);
      if (file) await file.write(result.value);
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  } finally {
    reader.releaseLock();
  }
}

function checkBody(received: number, options: SaveOptions, hash: Hash | null, name: string): void {
  if (options.contentLength !== null && received !== options.contentLength) {
    throw new StorageError(
      "IncompleteBody",
      `received ${received} of ${options.contentLength} announced bytes`,
    );
  }
  if (hash) {
    const digest = hash.digest("hex");
    if (digest !== name) {
      throw new StorageError("HashMismatch", `body hashes to ${digest}, not to its name`);
    }
  }
}

/**
 * Moves a finished temp file onto its final name.
 *
 * Without replacing (config, unverified uploads): a hard link fails when the
 * name exists, so nothing is ever overwritten; where the file system has no
 * hard links, a checked rename stands in. A verified object may replace: a
 * racing upload of the same name has the same bytes (both were hashed), so
 * one rename does.
 *
 * @returns `false` when the final name existed already (never for `replace`).
 */
function publish(temp: string, final: string, replace: boolean): boolean {
  if (replace) {
    Deno.renameSync(temp, final);
    return true;
  }
  try {
    Deno.linkSync(temp, final);
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    const unsupported = err instanceof Deno.errors.PermissionDenied ||
      err instanceof Deno.errors.NotSupported;
    if (!unsupported) throw err;
    if (existsSync(final)) return false;
    Deno.renameSync(temp, final);
    return true;
  }
  Deno.removeSync(temp);
  return true;
}

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Bytes `start`..`end` of an open file as a stream, closing the file when
 * the stream ends. A read to the end of the file uses Deno's own file stream,
 * which `Deno.serve` sends without a round trip through JavaScript per chunk.
 */
function fileStream(
  file: Deno.FsFile,
  start: number,
  end: number,
  size: number,
): ReadableStream<Uint8Array> {
  if (end === size - 1 && size > 0) {
    if (start > 0) file.seekSync(start, Deno.SeekMode.Start);
    return file.readable;
  }
  return sliceStream(file, start, end);
}

/** A bounded slice of an open file as a stream; the file is closed when the stream ends. */
function sliceStream(file: Deno.FsFile, start: number, end: number): ReadableStream<Uint8Array> {
  let position = start;
  let closed = false;
  const close = (): void => {
    if (!closed) file.close();
    closed = true;
  };
  return new ReadableStream<Uint8Array>({
    async start() {
      if (start > 0) await file.seek(start, Deno.SeekMode.Start);
    },
    async pull(controller) {
      const remaining = end + 1 - position;
      if (remaining <= 0) {
        close();
        controller.close();
        return;
      }
      const chunk = new Uint8Array(Math.min(READ_CHUNK_BYTES, remaining));
      let read: number | null;
      try {
        read = await file.read(chunk);
      } catch (err) {
        close();
        throw toStorageError(err, "read object");
      }
      if (read === null) {
        close();
        controller.error(new StorageError("Io", "object ended before its recorded size"));
        return;
      }
      position += read;
      controller.enqueue(read === chunk.length ? chunk : chunk.subarray(0, read));
      if (position > end) {
        close();
        controller.close();
      }
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 0 });
}

/** Storage in a folder of the local file system. */
export class FsStorage implements Storage {
  readonly #root: string;
  readonly #fileMode: number;
  readonly #dirMode: number;
  /** Set modes explicitly, whatever the umask (only for group access). */
  readonly #exactModes: boolean;
  /** Temp files of uploads in progress, removed if the server stops mid-upload. */
  readonly #uploads = new Set<string>();

  /**
   * @param root The data directory; repositories live below it.
   * @param options Permission choices.
   */
  constructor(root: string, options: FsStorageOptions = {}) {
    this.#root = root;
    this.#fileMode = options.groupAccessible ? 0o660 : 0o600;
    this.#dirMode = options.groupAccessible ? 0o770 : 0o700;
    // 0700/0600 are safe under any umask; group access must not depend on it.
    this.#exactModes = (options.groupAccessible ?? false) && Deno.build.os !== "windows";
  }

  #repoDir(repo: RepoPath): string {
    return join(this.#root, ...repo);
  }

  #path(ref: ObjectRef): string {
    const repoDir = this.#repoDir(ref.repo);
    if (ref.type === "config") return join(repoDir, "config");
    if (ref.type === "data") return join(repoDir, "data", ref.name.slice(0, 2), ref.name);
    return join(repoDir, ref.type, ref.name);
  }

  /**
   * Removes temp files that a crash left behind, anywhere below the root,
   * and reports every stored object (for usage and metrics).
   */
  async recover(onObject: (found: FoundObject) => void = () => {}): Promise<RecoveryReport> {
    await ensureDir(this.#root, this.#dirMode);
    let removedTempFiles = 0;
    const removeTemp = async (path: string): Promise<void> => {
      await Deno.remove(path).catch(() => {});
      removedTempFiles++;
    };
    const report = async (folder: string, names: string[], ref: (name: string) => ObjectRef) => {
      const infos = await Promise.all(
        names.map((n) => Deno.stat(join(folder, n)).catch(() => null)),
      );
      infos.forEach((info, i) => {
        if (info?.isFile) {
          onObject({ ref: ref(names[i]), size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 });
        }
      });
    };
    const scanObjects = async (folder: string, repo: string[], type: ObjectType): Promise<void> => {
      let names: string[] = [];
      for await (const entry of Deno.readDir(folder)) {
        const path = join(folder, entry.name);
        if (entry.name.startsWith(TEMP_FILE_PREFIX)) await removeTemp(path);
        else if (entry.isDirectory && type === "data") await scanObjects(path, repo, type);
        else if (entry.isFile && isObjectName(entry.name)) names.push(entry.name);
        if (names.length >= LIST_STAT_BATCH) {
          await report(folder, names, (name) => ({ repo, type, name }));
          names = [];
        }
      }
      await report(folder, names, (name) => ({ repo, type, name }));
    };
    const visit = async (dir: string, repo: string[]): Promise<void> => {
      for await (const entry of Deno.readDir(dir)) {
        const path = join(dir, entry.name);
        if (entry.name.startsWith(TEMP_FILE_PREFIX)) await removeTemp(path);
        else if (entry.isFile && entry.name === "config") {
          await report(dir, ["config"], () => ({ repo, type: "config" }));
        } else if (entry.isDirectory && isObjectType(entry.name)) {
          await scanObjects(path, repo, entry.name);
        } else if (
          entry.isDirectory && isValidRepoSegment(entry.name) && repo.length < MAX_REPO_DEPTH
        ) {
          await visit(path, [...repo, entry.name]);
        }
      }
    };
    await visit(this.#root, []);
    return { removedTempFiles };
  }

  /** Creates the repository folder, its type folders and `data/00`…`data/ff`. */
  async createRepo(repo: RepoPath): Promise<void> {
    const repoDir = this.#repoDir(repo);
    try {
      const folders = [
        repoDir,
        ...OBJECT_TYPES.map((type) => join(repoDir, type)),
        ...dataSubfolders().map((sub) => join(repoDir, "data", sub)),
      ];
      for (const folder of folders.slice(0, OBJECT_TYPES.length + 1)) {
        await ensureDir(folder, this.#dirMode);
      }
      await Promise.all(
        folders.slice(OBJECT_TYPES.length + 1).map((f) => ensureDir(f, this.#dirMode)),
      );
      if (this.#exactModes) await Promise.all(folders.map((f) => Deno.chmod(f, this.#dirMode)));
    } catch (err) {
      throw toStorageError(err, "create repository");
    }
  }

  /** Opens an object for reading; the open file keeps its bytes even if it is deleted meanwhile. */
  // deno-lint-ignore require-await -- async by the interface; cached metadata answers synchronously here
  async open(ref: ObjectRef): Promise<OpenedObject> {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(this.#path(ref), { read: true });
    } catch (err) {
      throw toStorageError(err, "open object");
    }
    try {
      const info = file.statSync();
      if (!info.isFile) throw new StorageError("NotFound", "open object: not a file");
      return {
        size: info.size,
        stream: (start, end) => fileStream(file, start, end, info.size),
        close: () => file.close(),
      };
    } catch (err) {
      file.close();
      throw toStorageError(err, "open object");
    }
  }

  /** The size of an object. */
  // deno-lint-ignore require-await -- async by the interface; cached metadata answers synchronously here
  async stat(ref: ObjectRef): Promise<number> {
    try {
      const info = Deno.statSync(this.#path(ref));
      if (!info.isFile) throw new StorageError("NotFound", "stat object: not a file");
      return info.size;
    } catch (err) {
      throw toStorageError(err, "stat object");
    }
  }

  /** Stores an object as SPEC section 7 says: temp file, hash, fsync, link, fsync folder. */
  async save(
    ref: ObjectRef,
    body: ReadableStream<Uint8Array> | null,
    options: SaveOptions,
  ): Promise<SaveResult> {
    const name = ref.type === "config" ? "config" : ref.name;
    const verify = options.verifyHash && ref.type !== "config";
    const final = this.#path(ref);
    const dir = dirname(final);
    if (existsSync(final)) return await this.#confirmExisting(ref, body, options);

    let file: DurableFile | null = null;
    const temp = join(dir, `${TEMP_FILE_PREFIX}${name}-${randomSuffix()}`);
    try {
      file = new DurableFile(await this.#createTemp(temp, dir));
      this.#uploads.add(temp);
      if (this.#exactModes) await Deno.chmod(temp, this.#fileMode);
      const hash = verify ? createHash("sha256") : null;
      const received = await receiveBody(
        body,
        file,
        hash,
        options.onReceive,
        options.idleTimeoutMs,
      );
      checkBody(received, options, hash, name);
      await file.sync();
      file.file.close();
      file = null;
      const created = publish(temp, final, verify);
      if (!created && !verify) {
        throw new StorageError("AlreadyExists", "stored meanwhile by another upload");
      }
      await syncDir(dir);
      return { created, size: received };
    } catch (err) {
      throw toStorageError(err, `save ${ref.type}`);
    } finally {
      if (file) {
        await file.settle();
        file.file.close();
      }
      if (this.#uploads.delete(temp)) await Deno.remove(temp).catch(() => {});
    }
  }

  /** Creates an upload's temp file, and its folder only when that is missing. */
  async #createTemp(temp: string, dir: string): Promise<Deno.FsFile> {
    const options = { write: true, createNew: true, mode: this.#fileMode };
    try {
      return await Deno.open(temp, options);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      await ensureDir(dir, this.#dirMode);
      return await Deno.open(temp, options);
    }
  }

  /**
   * An upload of an object that exists: with verification on, hash the body
   * without storing it and accept it when it matches (a retried upload whose
   * first answer was lost); otherwise refuse to overwrite.
   */
  async #confirmExisting(
    ref: ObjectRef,
    body: ReadableStream<Uint8Array> | null,
    options: SaveOptions,
  ): Promise<SaveResult> {
    if (ref.type === "config" || !options.verifyHash) {
      await body?.cancel().catch(() => {});
      throw new StorageError("AlreadyExists", `${ref.type} exists and is never overwritten`);
    }
    const hash = createHash("sha256");
    const received = await receiveBody(body, null, hash, undefined, options.idleTimeoutMs);
    checkBody(received, options, hash, ref.name);
    return { created: false, size: received };
  }

  /** Deletes an object; a missing one is fine. Returns its size, or `null` if it was not there. */
  // deno-lint-ignore require-await -- async by the interface; an unlink answers synchronously here
  async remove(ref: ObjectRef): Promise<number | null> {
    const path = this.#path(ref);
    try {
      const { size } = Deno.lstatSync(path);
      // No folder fsync (as rest-server): a delete lost in a crash only brings
      // an object back, and journaling file systems keep the order of unlinks.
      Deno.removeSync(path);
      return size;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null; // missing, or deleted meanwhile
      throw toStorageError(err, `delete ${ref.type}`);
    }
  }

  /** Lists one type folder: valid names only, `data` through its subfolders. */
  async list(
    repo: RepoPath,
    type: ObjectType,
    withSizes: boolean,
  ): Promise<AsyncIterable<ObjectInfo>> {
    const typeDir = join(this.#repoDir(repo), type);
    try {
      const info = await Deno.stat(typeDir);
      if (!info.isDirectory) throw new StorageError("NotFound", "list: not a folder");
    } catch (err) {
      throw toStorageError(err, `list ${type}`);
    }
    const folders = type === "data" ? subfolders(typeDir) : [typeDir];
    return listObjects(folders, withSizes);
  }

  /** Creates and removes a small file in the data directory. */
  async checkWritable(): Promise<boolean> {
    const probe = join(this.#root, `${TEMP_FILE_PREFIX}health-${randomSuffix()}`);
    try {
      const file = await Deno.open(probe, { write: true, createNew: true, mode: this.#fileMode });
      try {
        await file.write(new Uint8Array([0x0a]));
      } finally {
        file.close();
      }
      await Deno.remove(probe);
      return true;
    } catch {
      await Deno.remove(probe).catch(() => {});
      return false;
    }
  }

  /** Removes the temp files of uploads still in progress (at shutdown). */
  abortUploads(): void {
    for (const temp of this.#uploads) {
      try {
        Deno.removeSync(temp);
      } catch {
        // already gone
      }
    }
    this.#uploads.clear();
  }
}

function* subfolders(dataDir: string): Generator<string> {
  for (const entry of readFolder(dataDir)) {
    if (entry.isDirectory && !entry.name.startsWith(".")) yield join(dataDir, entry.name);
  }
}

/** A folder's entries; one that vanished meanwhile is empty. */
function readFolder(folder: string): Deno.DirEntry[] {
  try {
    return Array.from(Deno.readDirSync(folder));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

async function* listObjects(
  folders: AsyncIterable<string> | Iterable<string>,
  withSizes: boolean,
): AsyncGenerator<ObjectInfo> {
  for await (const folder of folders) {
    // Deno's async readDir costs about 3.5 times readDirSync per entry; one
    // folder (a few thousand entries even in a huge repository, thanks to the
    // data/xx fan-out) blocks the event loop for about a millisecond.
    const names: string[] = [];
    for (const entry of readFolder(folder)) {
      if (entry.isFile && isObjectName(entry.name)) names.push(entry.name);
    }
    if (!withSizes) {
      for (const name of names) yield { name, size: -1 };
      continue;
    }
    // Synchronous lstat in small batches: a thread-pool round trip per file
    // costs several times the system call itself, and a batch blocks the
    // event loop for well under a millisecond.
    for (let i = 0; i < names.length; i += LIST_STAT_BATCH) {
      const batch: ObjectInfo[] = [];
      for (const name of names.slice(i, i + LIST_STAT_BATCH)) {
        try {
          batch.push({ name, size: Deno.lstatSync(join(folder, name)).size });
        } catch {
          // deleted meanwhile
        }
      }
      yield* batch;
    }
  }
}
