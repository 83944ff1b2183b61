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
   * @param message Why, for the log and, for a refusal (4xx), the client: nothing secret.
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
  ReadOnly: STATUS_CODE.InsufficientStorage,
  QuotaExceeded: STATUS_CODE.InsufficientStorage,
  Unavailable: STATUS_CODE.ServiceUnavailable,
  Io: STATUS_CODE.InternalServerError,
};

/** Seconds a client is asked to wait when the storage is unreachable (restic retries). */
export const RETRY_AFTER_SECONDS = 5;

/**
 * A status response: the reason phrase and, when given, why, on one line.
 *
 * @param status The status code.
 * @param headers Extra headers.
 * @param why What the client should know (never for a 500: that stays in the log).
 * @returns The response.
 */
export function statusResponse(
  status: StatusCode,
  headers: Record<string, string> = {},
  why?: string,
): Response {
  return new Response(`${STATUS_TEXT[status]}${why ? `: ${why}` : ""}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/** A response for an error, with the reason to log. */
export interface ErrorOutcome {
  response: Response;
  reason: string;
}

/** What a client is told of a storage error (its message may hold server paths: for the log). */
function clientReason(err: StorageError): string | undefined {
  switch (err.code) {
    case "NotFound":
      return "not found";
    case "AlreadyExists":
      return "it exists and is never overwritten";
    case "HashMismatch":
      return "the body does not hash to the object's name";
    case "IncompleteBody":
      return "the body ended before its Content-Length, or the client stopped sending it";
    case "Timeout":
      return "no body bytes for too long (--idle-timeout)";
    case "QuotaExceeded":
      return `over the size limit (--max-size or the policy): ${err.message}`;
    case "NoSpace":
      return "the disk is full";
    case "ReadOnly":
      return "the storage takes no writes (read-only, or no permission)";
    case "Unavailable":
      return "the storage cannot be reached now; retry later";
    case "Io":
      return undefined;
  }
}

/**
 * Turns anything thrown while handling a request into a response. Storage
 * errors map by code (an unreachable medium is 503 with `Retry-After`);
 * unknown errors are 500 (never 404: restic would read that as missing data).
 * A refusal's body says why in one line; a 500's only that it failed.
 *
 * @param err What was thrown.
 * @returns The response and the reason for the log.
 */
export function errorToResponse(err: unknown): ErrorOutcome {
  if (err instanceof HttpError) {
    const why = err.status < 500 ? err.message : undefined;
    return { response: statusResponse(err.status, err.headers, why), reason: err.message };
  }
  if (err instanceof StorageError) {
    const headers: Record<string, string> = err.code === "Unavailable"
      ? { "retry-after": String(RETRY_AFTER_SECONDS) }
      : {};
    const status = STORAGE_STATUS[err.code];
    return { response: statusResponse(status, headers, clientReason(err)), reason: err.message };
  }
  const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { response: statusResponse(STATUS_CODE.InternalServerError), reason };
}
