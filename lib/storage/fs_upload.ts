/**
 * The write half of the file storage: receiving a body into a temp file
 * (BYOB reads into one reused buffer, hashing, early background flushes,
 * idle timeout), checking it, and publishing it under its final name.
 *
 * @module
 */

import type { Hash } from "node:crypto";
import { existsSync } from "../fs_util.ts";
import { type SaveOptions, StorageError } from "./types.ts";

/** The largest part of a body read at once. */
const READ_BUFFER_BYTES = 64 << 10;

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

function clientGone(err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  return new StorageError("IncompleteBody", "the client stopped sending the body", { cause: err });
}

/**
 * Cuts off a body that sends nothing for `idleMs`: one timer per upload
 * looks at the time of the last byte (a timer per read would cost a promise
 * race for every 64 KiB), and cancels the reader when it is too old.
 */
class IdleWatch {
  #last = Date.now();
  #timer: ReturnType<typeof setInterval> | null = null;
  expired = false;

  constructor(idleMs: number | undefined, cancel: () => void) {
    if (idleMs === undefined) return;
    this.#timer = setInterval(() => {
      if (Date.now() - this.#last < idleMs) return;
      this.expired = true;
      cancel();
    }, Math.min(1000, Math.max(50, idleMs / 4)));
  }

  /** Notes that bytes arrived; throws `Timeout` when the watch gave up first. */
  arrived(idleMs: number | undefined): void {
    if (this.expired) throw new StorageError("Timeout", `no body bytes for ${idleMs! / 1000} s`);
    this.#last = Date.now();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
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
 * null), calling `onReceive` with the running total. A byte stream is read
 * with a BYOB reader into one reused buffer (no allocation per chunk); each
 * part is written at once, synchronously: a write into the page cache costs
 * less than a thread-pool round trip. Reading errors mean the client went
 * away; writing errors are the disk's.
 *
 * @returns The number of bytes received.
 */
export async function receiveBody(
  body: ReadableStream<Uint8Array> | null,
  file: DurableFile | null,
  hash: Hash | null,
  onReceive?: (totalBytes: number) => void,
  idleMs?: number,
): Promise<number> {
  if (body === null) return 0;
  let byob: ReadableStreamBYOBReader | null = null;
  let reader: ReadableStreamBYOBReader | ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = byob = body.getReader({ mode: "byob" });
  } catch {
    reader = body.getReader(); // not a byte stream
  }
  let buffer: Uint8Array = new Uint8Array(READ_BUFFER_BYTES);
  let total = 0;
  const watch = new IdleWatch(idleMs, () => void reader.cancel().catch(() => {}));
  try {
    while (true) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = byob
          ? await byob.read(buffer)
          : await (reader as ReadableStreamDefaultReader<Uint8Array>).read();
      } catch (err) {
        throw clientGone(err);
      }
      watch.arrived(idleMs);
      if (byob && result.value) buffer = new Uint8Array(result.value.buffer); // the view was transferred
      if (result.done) return total;
      const chunk = result.value;
      total += chunk.length;
      onReceive?.(total);
      hash?.update(chunk);
      file?.writeSync(chunk);
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  } finally {
    watch.stop();
    reader.releaseLock();
  }
}

/**
 * Checks a received body against the announced length and against its name
 * (the SHA-256 of the content, when verifying).
 *
 * @throws {StorageError} `IncompleteBody` or `HashMismatch`.
 */
export function checkBody(
  received: number,
  options: SaveOptions,
  hash: Hash | null,
  name: string,
): void {
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
