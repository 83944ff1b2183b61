/**
 * An upload's body as a handler takes it: its announced length checked, a
 * small one read whole (one buffer, no stream machinery), a large one left
 * streaming.
 *
 * @module
 */

import { StorageError, type UploadBody } from "../storage/types.ts";
import { HttpError } from "./errors.ts";
import { STATUS_CODE } from "./status_codes.ts";

/** Uploads up to this size (locks, keys, snapshots, small index files) are read whole. */
const WHOLE_BODY_BYTES = 64 << 10;

/**
 * Reads a small body whole: one buffer, no stream machinery. A client that
 * sends nothing for `idleMs` gets 408, one that goes away 400.
 */
async function readWhole(request: Request, idleMs: number | undefined): Promise<Uint8Array> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = idleMs === undefined ? null : new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new StorageError("Timeout", `no body bytes for ${idleMs / 1000} s`)),
      idleMs,
    );
  });
  const reading = request.bytes();
  try {
    return await (expired ? Promise.race([reading, expired]) : reading);
  } catch (err) {
    reading.catch(() => {}); // the client may still answer after the timeout
    if (err instanceof StorageError) throw err;
    throw new StorageError("IncompleteBody", "the client stopped sending the body", { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The announced body length.
 *
 * @param request The upload.
 * @returns The length, or `null` for a chunked body.
 * @throws {HttpError} 400 for a header that is not a length.
 */
export function parseContentLength(request: Request): number | null {
  const header = request.headers.get("content-length");
  if (header === null) return null;
  if (!/^\d{1,15}$/.test(header.trim())) {
    throw new HttpError(STATUS_CODE.BadRequest, `Invalid Content-Length "${header}"`);
  }
  return Number(header.trim());
}

/**
 * The body to store: whole when it is small, the request's stream otherwise.
 *
 * @param request The upload.
 * @param contentLength Its announced length, or `null` (chunked).
 * @param idleMs An upload that sends nothing this long (ms) fails with 408.
 * @returns The body.
 */
export async function uploadBody(
  request: Request,
  contentLength: number | null,
  idleMs: number | undefined,
): Promise<UploadBody> {
  const small = contentLength !== null && contentLength <= WHOLE_BODY_BYTES;
  return small ? await readWhole(request, idleMs) : request.body;
}
