/**
 * The object store's failures in protocol terms. The store being away,
 * slow, overloaded or failing is `Unavailable` (503 with `Retry-After`:
 * restic retries), never `NotFound`, which restic would read as missing data.
 *
 * @module
 */

import { type S3Response, S3TransportError } from "./http.ts";
import { errorCode } from "./xml.ts";
import { StorageError } from "../types.ts";

/**
 * Turns an answer that is not a success into a storage error (its body is
 * read for the error code only: the rest may echo a key id).
 *
 * @param response The store's answer.
 * @param action What was being done, for the log.
 * @returns The storage error.
 */
export async function answerError(response: S3Response, action: string): Promise<StorageError> {
  const code = errorCode(await response.text().catch(() => ""));
  const { status } = response;
  const said = `${action}: the store answered ${status}${code ? ` ${code}` : ""}`;
  if (status === 404 && code !== "NoSuchBucket") return new StorageError("NotFound", said);
  if (status === 400 && /BadDigest|SHA256Mismatch|InvalidDigest/.test(code)) {
    return new StorageError("HashMismatch", `${said}: the body does not hash to its name`);
  }
  if (status === 412) return new StorageError("AlreadyExists", said);
  if (status === 404 || status === 408 || status === 429 || status >= 500) {
    return new StorageError("Unavailable", said);
  }
  return new StorageError("Io", said);
}

/**
 * Turns a thrown error into a storage error: one that did not reach the
 * store, or broke off, is `Unavailable`.
 *
 * @param err What was thrown.
 * @param action What was being done, for the log.
 * @returns The storage error.
 */
export function thrownError(err: unknown, action: string): StorageError {
  if (err instanceof StorageError) return err;
  if (err instanceof S3TransportError) {
    return new StorageError("Unavailable", `${action}: ${err.message}`);
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new StorageError("Io", `${action}: ${reason}`, { cause: err });
}
