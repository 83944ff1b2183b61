/**
 * The write half of the file storage: a body into a temp file (hashing,
 * early background flushes), and the temp file published under its final
 * name.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { dirname, existsSync, join, syncDir } from "../../base/fs_util.ts";
import { TEMP_FILE_PREFIX } from "../../base/restic.ts";
import { ownerFileOf, ownerTempName, recordOwner } from "./owners.ts";
import { type SaveOptions, type SaveResult, StorageError, type UploadBody } from "../types.ts";
import { checkBody, readParts } from "../upload_body.ts";

/** Bytes written before a background flush starts (see {@link DurableFile}). */
const EARLY_SYNC_BYTES = 4 << 20;

/**
 * A file being written for an upload. With plenty of RAM the kernel flushes
 * nothing until our final fsync, so the disk would idle while the body
 * streams in and then take the whole flush at the end; starting an
 * `fdatasync` in the background every few MiB keeps it busy meanwhile.
 */
export class DurableFile {
  #unsynced = 0;
  #syncing: Promise<void> | null = null;
  #error: unknown = null;

  constructor(readonly file: Deno.FsFile) {}

  /** Writes all of `data` now (into the page cache), and starts a background flush every few MiB. */
  writeSync(data: Uint8Array): void {
    let offset = 0;
    while (offset < data.length) offset += this.file.writeSync(data.subarray(offset));
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

/**
 * Takes a body that came whole (a small upload): hashes it and writes it in
 * one call.
 *
 * @returns The number of bytes.
 */
export function writeWhole(
  body: Uint8Array,
  file: DurableFile | null,
  hash: Hash | null,
  onReceive?: (totalBytes: number) => void,
): number {
  onReceive?.(body.length);
  hash?.update(body);
  file?.writeSync(body);
  return body.length;
}

/**
 * Streams a request body into `file` (or only through `hash` when `file` is
 * null), calling `onReceive` with the running total. Each part is written at
 * once, synchronously: a write into the page cache costs less than a
 * thread-pool round trip.
 *
 * @returns The number of bytes received.
 */
export function receiveBody(
  body: ReadableStream<Uint8Array> | null,
  file: DurableFile | null,
  hash: Hash | null,
  onReceive?: (totalBytes: number) => void,
  idleMs?: number,
): Promise<number> {
  return readParts(body, (part, total) => {
    onReceive?.(total);
    hash?.update(part);
    file?.writeSync(part);
  }, idleMs);
}

/**
 * Moves a finished temp file onto its final name without replacing another
 * object. A verified object is renamed after a check that nothing is there:
 * both are synchronous, so no other upload in this process runs between
 * them, and racing identical uploads count once (one rename: fewer disk
 * writes than link and unlink). The config and unverified objects are hard
 * linked, which fails when the name exists, whoever made it; where the file
 * system has no hard links, a checked rename stands in.
 *
 * @param temp The finished temp file.
 * @param final The object's name.
 * @param verified Whether the content was checked against the name.
 * @returns `false` when the final name existed already (the temp file stays).
 */
export function publish(temp: string, final: string, verified: boolean): boolean {
  if (verified) {
    if (existsSync(final)) return false;
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

/** 16 random hex digits, for temp file names nobody can guess or collide with. */
export function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Where and how an upload is written. */
export interface UploadPlace {
  /** The object's path. */
  final: string;
  /** Its name (the hash), or `config`. */
  name: string;
  /** Check the body's SHA-256 against the name. */
  verify: boolean;
  /** Who stores a lock, recorded before the lock appears; `null` for none. */
  owner: string | null;
  fileMode: number;
  dirMode: number;
  /** Set the modes explicitly, whatever the umask. */
  exactModes: boolean;
  /** Temp files of uploads running now: the start-up walk leaves them, shutdown removes them. */
  live: Set<string>;
}

/**
 * Writes an upload as docs/protocol.md §7 says: temp file, hash, fsync,
 * move into place without replacing anything, fsync of the folder.
 *
 * @param place Where, and how.
 * @param body The body.
 * @param options The upload's checks.
 * @returns Whether it was stored (`false`: an identical object was there).
 */
export async function writeUpload(
  place: UploadPlace,
  body: UploadBody,
  options: SaveOptions,
): Promise<SaveResult> {
  const { final, name, verify, owner, live } = place;
  const dir = dirname(final);
  let file: DurableFile | null = null;
  const temp = join(dir, `${TEMP_FILE_PREFIX}${name}-${randomSuffix()}`);
  const ownerTemp = join(dir, ownerTempName(name, randomSuffix()));
  const ownerFile = ownerFileOf(final);
  try {
    file = new DurableFile(await createTemp(temp, place));
    live.add(temp);
    if (place.exactModes) await Deno.chmod(temp, place.fileMode);
    const hash = verify ? createHash("sha256") : null;
    const received = body instanceof Uint8Array
      ? writeWhole(body, file, hash, options.onReceive)
      : await receiveBody(body, file, hash, options.onReceive, options.idleTimeoutMs);
    checkBody(received, options, hash, name);
    await file.sync();
    file.file.close();
    file = null;
    if (owner !== null) {
      // Both stay out of the start-up walk's reach, and go if the lock never appears.
      live.add(ownerTemp).add(ownerFile);
      await recordOwner(final, owner, place.fileMode, ownerTemp);
    }
    const created = publish(temp, final, verify);
    live.delete(ownerFile); // it belongs to the lock now
    if (!created && !verify) {
      throw new StorageError("AlreadyExists", "stored meanwhile by another upload");
    }
    if (!created) return { created, size: received }; // an identical object won the race
    live.delete(temp); // the temp name is gone; nothing to clean up
    await syncDir(dir);
    return { created, size: received };
  } finally {
    if (file) {
      await file.settle();
      file.file.close();
    }
    // Taken out of `live` and removed in one step: a shutdown's abortUploads() skips what
    // is no longer in `live`, and the process may exit before an awaited remove is done.
    for (const path of [temp, ownerTemp, ownerFile]) {
      if (!live.delete(path)) continue;
      try {
        Deno.removeSync(path);
      } catch {
        // already gone
      }
    }
  }
}

/** Creates an upload's temp file, and its folder only when that is missing. */
async function createTemp(temp: string, place: UploadPlace): Promise<Deno.FsFile> {
  const options = { write: true, createNew: true, mode: place.fileMode };
  try {
    return await Deno.open(temp, options);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    await Deno.mkdir(dirname(temp), { recursive: true, mode: place.dirMode });
    return await Deno.open(temp, options);
  }
}
