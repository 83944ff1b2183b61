/**
 * HTTP status codes and reason phrases used by the server. Shaped like
 * `STATUS_CODE` / `STATUS_TEXT` of `@std/http/status`, so swapping that
 * module in later (when JSR is reachable) changes only this file.
 *
 * @module
 */

/** Status codes by name. */
export const STATUS_CODE = {
  OK: 200,
  PartialContent: 206,
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  RequestTimeout: 408,
  Conflict: 409,
  LengthRequired: 411,
  ContentTooLarge: 413,
  RangeNotSatisfiable: 416,
  TooManyRequests: 429,
  InternalServerError: 500,
  ServiceUnavailable: 503,
  InsufficientStorage: 507,
} as const;

/** A status code this server answers with. */
export type StatusCode = typeof STATUS_CODE[keyof typeof STATUS_CODE];

/** Reason phrases by status code. */
export const STATUS_TEXT: Record<StatusCode, string> = {
  200: "OK",
  206: "Partial Content",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  411: "Length Required",
  413: "Content Too Large",
  416: "Range Not Satisfiable",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
  507: "Insufficient Storage",
};
