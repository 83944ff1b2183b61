/**
 * The read half of the file storage: an open file, or a slice of it, as a
 * stream that closes the file when it ends.
 *
 * @module
 */

import { toStorageError } from "./fs_errors.ts";
import { StorageError } from "./types.ts";

/** Bytes per read call when streaming a bounded slice (restic's range reads are at most a few MiB). */
const READ_CHUNK_BYTES = 256 << 10;

/**
 * Bytes `start`..`end` of an open file as a stream, closing the file when
 * the stream ends. A read to the end of the file uses Deno's own file stream,
 * which `Deno.serve` sends without a round trip through JavaScript per chunk.
 */
export function fileStream(
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
