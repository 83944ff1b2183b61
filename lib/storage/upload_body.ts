/**
 * Receiving an upload's body, whatever the medium: read in parts (BYOB into
 * one reused buffer where the stream allows), each part handed on as it
 * arrives, an idle watchdog, client failures told apart from the medium's,
 * and the checks against the announced length and the object's name.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import {
  type ObjectRef,
  type SaveOptions,
  type SaveResult,
  StorageError,
  type UploadBody,
} from "./types.ts";

/**
 * The largest part of a body read at once. The runtime reads the socket
 * straight into this buffer, so it sets the size of every receive, file
 * write and wake-up: 128 KiB halves the system calls of 64 KiB. 256 KiB
 * used less CPU still with one upload, but once the disk held data, eight
 * uploads spent half their time in the kernel copying the writes into the
 * page cache (0.65x the throughput; docs/performance.md).
 */
const READ_BUFFER_BYTES = 128 << 10;

function clientGone(err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  return new StorageError("IncompleteBody", "the client stopped sending the body", { cause: err });
}

/**
 * Cuts off a body that sends nothing for `idleMs`: one timer per upload
 * looks at the time of the last byte (a timer per read would cost a promise
 * race for every part), and cancels the reader when it is too old.
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
 * Reads a request body part by part, handing each to `onPart` (which may
 * wait, for back-pressure), and fails with `Timeout` when no byte arrives
 * for `idleMs`. Reading errors mean the client went away (`IncompleteBody`);
 * errors of `onPart` are the medium's and pass unchanged.
 *
 * Every part is read into the same buffer, so `onPart` must be done with a
 * part when it (or the promise it returns) settles.
 *
 * @returns The number of bytes received.
 */
export async function readParts(
  body: ReadableStream<Uint8Array> | null,
  onPart: (part: Uint8Array, total: number) => void | Promise<void>,
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
      total += result.value.length;
      const pending = onPart(result.value, total);
      if (pending) await pending;
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
 * Answers an upload of an object that exists already, on any medium: with
 * verification on, the body is hashed without being stored and accepted when
 * it matches (a retried upload whose first answer was lost); otherwise the
 * object is never overwritten.
 *
 * @throws {StorageError} `AlreadyExists` (config, or not verifying), or the body's failures.
 */
export async function confirmExisting(
  ref: ObjectRef,
  body: UploadBody,
  options: SaveOptions,
): Promise<SaveResult> {
  if (ref.type === "config" || !options.verifyHash) {
    if (body instanceof ReadableStream) await body.cancel().catch(() => {});
    throw new StorageError("AlreadyExists", `${ref.type} exists and is never overwritten`);
  }
  const hash = createHash("sha256");
  const received = body instanceof ReadableStream
    ? await readParts(body, (part) => void hash.update(part), options.idleTimeoutMs)
    : (hash.update(body ?? new Uint8Array(0)), body?.length ?? 0);
  checkBody(received, options, hash, ref.name);
  return { created: false, size: received };
}
