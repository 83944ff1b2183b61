/**
 * Parsing of the `Range` request header (docs/protocol.md §4), and whether
 * the answer to a range may be cut by the HTTP layer. Pure.
 *
 * @module
 */

/** What to send for a read, given the `Range` header and the object size. */
export type RangeDecision =
  | { kind: "full" }
  | { kind: "partial"; start: number; end: number }
  | { kind: "unsatisfiable" };

const DIGITS = /^\d+$/;

function parseOne(spec: string, size: number): RangeDecision {
  const dash = spec.indexOf("-");
  if (dash < 0) return { kind: "unsatisfiable" };
  const first = spec.slice(0, dash).trim();
  const second = spec.slice(dash + 1).trim();
  if (first === "") {
    // Suffix range `-n`: the last n bytes.
    if (!DIGITS.test(second)) return { kind: "unsatisfiable" };
    const length = Number(second);
    if (length === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(0, size - length), end: size - 1 };
  }
  if (!DIGITS.test(first)) return { kind: "unsatisfiable" };
  const start = Number(first);
  let end = size - 1;
  if (second !== "") {
    if (!DIGITS.test(second)) return { kind: "unsatisfiable" };
    const requestedEnd = Number(second);
    if (requestedEnd < start) return { kind: "unsatisfiable" };
    end = Math.min(requestedEnd, size - 1);
  }
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "partial", start, end };
}

/**
 * Decides what part of an object a `Range` header asks for.
 *
 * A missing header and several ranges give the whole object (restic never
 * asks for several); a single range is clipped to the object; a start at or
 * past the end, a malformed header or another unit is unsatisfiable.
 *
 * @param header The `Range` header value, or `null`.
 * @param size The object size in bytes.
 * @returns The decision; `partial` bounds are inclusive.
 *
 * @example
 * ```ts
 * parseRange("bytes=10-", 100); // { kind: "partial", start: 10, end: 99 }
 * ```
 */
export function parseRange(header: string | null, size: number): RangeDecision {
  if (header === null) return { kind: "full" };
  const match = /^\s*bytes\s*=(.*)$/i.exec(header);
  if (!match) return { kind: "unsatisfiable" };
  const specs = match[1].split(",");
  if (specs.length > 1) {
    // Serve the whole object for a syntactically valid multi-range request.
    const valid = specs.every((spec) => /^\s*(\d+-\d*|-\d+)\s*$/.test(spec));
    return valid ? { kind: "full" } : { kind: "unsatisfiable" };
  }
  return parseOne(specs[0].trim(), size);
}

/**
 * Whether Deno sends this request's response over HTTP/1.x, where a body
 * that runs past the response's Content-Length is cut at that length (the
 * HTTP layer stops reading it there, and the connection stays usable).
 * Over HTTP/2 a body longer than its Content-Length resets the stream.
 *
 * Deno gives an HTTP/2 request its authority in the URL and no `Host`
 * header; HTTP/1.1 requires one (RFC 9112 §3.2). A request without it,
 * including HTTP/1.0 without one, is answered as if over HTTP/2. The one
 * case this misreads is an HTTP/2 client that adds a `Host` header of its
 * own (RFC 9113 §8.3.1 leaves it to intermediaries; Go, curl and restic
 * send none): its ranges over 1 MiB are reset, and nothing else is hurt.
 * tests/e2e/range_cut_test.ts holds Deno to both.
 *
 * @param request The request.
 * @returns True when a range may be sent as a stream that runs past its end.
 */
export function cutsAtLength(request: Request): boolean {
  return request.headers.has("host");
}
