/**
 * Errors as values with a status, and the one place any error becomes an
 * HTTP response.
 *
 * @module
 */

import { STATUS_CODE, STATUS_TEXT, type StatusCode } from "./status_codes.ts";
import { StorageError, type StorageErrorCode } from "../storage/types.ts";

/** An error that already knows its HTTP status. */
export class HttpError extends Error {
  /**
   * @param status The status to answer with.
   * @param message Why, for the debug log (never sent to the client).
   * @param headers Extra response headers, such as `Allow` or `Content-Range`.
   */
  constructor(
    readonly status: StatusCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

const STORAGE_STATUS: Record<StorageErrorCode, StatusCode> = {
  NotFound: STATUS_CODE.NotFound,
  AlreadyExists: STATUS_CODE.Forbidden,
  HashMismatch: STATUS_CODE.BadRequest,
  IncompleteBody: STATUS_CODE.BadRequest,
  Timeout: STATUS_CODE.RequestTimeout,
  NoSpace: STATUS_CODE.InsufficientStorage,
  QuotaExceeded: STATUS_CODE.InsufficientStorage,
  Unavailable: STATUS_CODE.ServiceUnavailable,
  Io: STATUS_CODE.InternalServerError,
};

/** Seconds a client is asked to wait when the storage is unreachable (restic retries). */
export const RETRY_AFTER_SECONDS = 5;

/**
 * A bodyless-looking status response: the reason phrase and a newline.
 *
 * @param status The status code.
 * @param headers Extra headers.
 * @returns The response.
 */
export function statusResponse(status: StatusCode, headers: Record<string, string> = {}): Response {
  return new Response(`${STATUS_TEXT[status]}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/** A response for an error, with the reason to log. */
export interface ErrorOutcome {
  response: Response;
  reason: string;
}

/**
 * Turns anything thrown while handling a request into a response. Storage
 * errors map by code (an unreachable medium is 503 with `Retry-After`);
 * unknown errors are 500 (never 404: restic would read that as missing data).
 *
 * @param err What was thrown.
 * @returns The response and the reason for the log.
 */
export function errorToResponse(err: unknown): ErrorOutcome {
  if (err instanceof HttpError) {
    return { response: statusResponse(err.status, err.headers), reason: err.message };
  }
  if (err instanceof StorageError) {
    const headers: Record<string, string> = err.code === "Unavailable"
      ? { "retry-after": String(RETRY_AFTER_SECONDS) }
      : {};
    return { response: statusResponse(STORAGE_STATUS[err.code], headers), reason: err.message };
  }
  const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { response: statusResponse(STATUS_CODE.InternalServerError), reason };
}
