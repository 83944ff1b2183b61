/**
 * The read half of the file storage: an open file, or a slice of it, as a
 * response body: small objects and ranges read in one go into one buffer,
 * larger reads as a stream that closes the file when it ends: Deno's own
 * file stream where it may run to the file's end, else one read in
 * JavaScript per chunk.
 *
 * @module
 */

import { toStorageError } from "./errors.ts";
import { StorageError } from "../types.ts";

/** Whole objects up to this size are read in one call: a stream costs more than the read. */
const SMALL_OBJECT_BYTES = 64 << 10;
/** Ranges up to this size are read in one call into one buffer (restic reads blobs, KiB to a few MiB). */
const SINGLE_READ_BYTES = 1 << 20;
/**
 * Bytes per read when a bounded slice must be streamed in JavaScript (a
 * range whose receiver does not cut the stream, e.g. over HTTP/2). 64 KiB,
 * not 1 MiB: with 1 MiB chunks a 1 GB restore left the server at 134 MiB
 * resident, with 64 KiB at 90 MiB, and no slower (bench/results/workloads.md).
 */
const STREAM_CHUNK_BYTES = 64 << 10;

/** Fills `buffer` from the file's current position; the file must hold that many bytes. */
function readFully(file: Deno.FsFile, buffer: Uint8Array): void {
  let offset = 0;
  while (offset < buffer.length) {
    const read = file.readSync(buffer.subarray(offset));
    if (read === null) throw new StorageError("Io", "object ended before its recorded size");
    offset += read;
  }
}

/**
 * Bytes `start`..`end` of an open file as a response body, closing the file
 * when done.
 *
 * A large read to the file's end, or a range whose receiver cuts the body at
 * its length, is Deno's own file stream: the HTTP server reads the file and
 * sends it without a JavaScript buffer per chunk. A 1 GB restore through
 * ranges read that way peaked at 58 MiB resident against 94 MiB with a
 * fresh 64 KiB buffer per chunk, with 2.7 against 3.5 s of CPU
 * (bench/results/workloads.md).
 *
 * @param file The open file; this takes it over.
 * @param start The first byte.
 * @param end The last byte (inclusive); `start - 1` for nothing.
 * @param size The file's size.
 * @param cutAtLength The receiver sends only `end - start + 1` bytes, so
 *   the stream may run past `end` (see `BodyOptions`).
 * @returns The bytes, or a stream of them.
 */
export function fileBody(
  file: Deno.FsFile,
  start: number,
  end: number,
  size: number,
  cutAtLength = false,
): Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> {
  const length = end - start + 1;
  const whole = start === 0 && end === size - 1;
  if (length <= SMALL_OBJECT_BYTES || (!whole && length <= SINGLE_READ_BYTES)) {
    const bytes = new Uint8Array(length);
    try {
      if (start > 0) file.seekSync(start, Deno.SeekMode.Start);
      readFully(file, bytes);
    } catch (err) {
      throw toStorageError(err, "read object");
    } finally {
      file.close();
    }
    return bytes;
  }
  if (start > 0) file.seekSync(start, Deno.SeekMode.Start);
  return end === size - 1 || cutAtLength ? file.readable : sliceStream(file, length);
}

/** The next `length` bytes of an open file as a stream; the file is closed when it ends. */
function sliceStream(file: Deno.FsFile, length: number): ReadableStream<Uint8Array> {
  let left = length;
  let closed = false;
  const close = (): void => {
    if (!closed) file.close();
    closed = true;
  };
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = new Uint8Array(Math.min(STREAM_CHUNK_BYTES, left));
      try {
        readFully(file, chunk);
      } catch (err) {
        close();
        throw toStorageError(err, "read object");
      }
      left -= chunk.length;
      controller.enqueue(chunk);
      if (left === 0) {
        close();
        controller.close();
      }
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 0 });
}
