/**
 * The write half of the file storage: receiving a body into a temp file
 * (BYOB reads into reused buffers, hashing, early background flushes, idle
 * timeout), checking it, and publishing it under its final name.
 *
 * @module
 */

import type { Hash } from "node:crypto";
import { existsSync } from "../fs_util.ts";
import { type SaveOptions, StorageError } from "./types.ts";

/** Bytes gathered before one write call: fewer, larger writes. */
const WRITE_BUFFER_BYTES = 256 << 10;

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
export class DurableFile {
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
  if (file) {
    let offset = 0;
    while (offset < body.length) offset += file.file.writeSync(body.subarray(offset));
  }
  return body.length;
}

/** Reads the next part of a body into the free end of `buffer` (whose memory moves). */
async function readInto(
  reader: ReadableStreamBYOBReader,
  buffer: Uint8Array,
  filled: number,
  idleMs: number | undefined,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  try {
    const view = new Uint8Array(buffer.buffer as ArrayBuffer, filled, buffer.length - filled);
    return await readWithin(reader.read(view), idleMs);
  } catch (err) {
    throw clientGone(err);
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
export async function receiveBody(
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
      const result = await readInto(reader, current, filled, idleMs);
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
