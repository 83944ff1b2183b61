/**
 * The words the S3 client and its streamed PUT share: a request, an answer,
 * a body producer and the error for a store that cannot be heard.
 *
 * @module
 */

/**
 * Writes a request body part by part; `write` waits while the connection is
 * busy (back-pressure). When it throws, the request is abandoned (the store
 * never completes it) and `send` rejects with that error.
 */
export type BodyProducer = (write: (part: Uint8Array) => Promise<void>) => Promise<void>;

/** One request to the store. */
export interface S3Request {
  method: "GET" | "HEAD" | "PUT" | "DELETE";
  /** The object key; `null` for the bucket itself. */
  key: string | null;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** A whole body, or a producer that writes exactly `contentLength` bytes, part by part. */
  body?: Uint8Array | BodyProducer | null;
  contentLength?: number;
  /** The body's SHA-256 (hex), signed so the store refuses another body; or `UNSIGNED-PAYLOAD`. */
  payloadHash?: string;
  signal?: AbortSignal;
}

/** The store's answer; `body` streams (and must be read or cancelled). */
export interface S3Response {
  status: number;
  headers: Record<string, string | undefined>;
  body: ReadableStream<Uint8Array>;
  text(): Promise<string>;
}

/** A failure to reach the store or to hear its whole answer (no status). */
export class S3TransportError extends Error {
  /** @param message What happened, without any credential. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "S3TransportError";
  }
}

/**
 * Why a request to the store did not get through, in a user's words: fetch
 * says only "fetch failed" and keeps the reason in its cause.
 *
 * @param err What fetch threw.
 * @returns A few words: refused, no such host, not TLS, an untrusted certificate, or the cause.
 */
export function transportReason(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  const text = `${(err as Error)?.message ?? err} ${(cause as Error)?.message ?? cause ?? ""}`;
  if (/Connection refused/i.test(text)) return "connection refused: nothing listens there";
  if (/dns error|failed to lookup|Name or service not known|nodename nor servname/i.test(text)) {
    return "the host name does not resolve";
  }
  if (/InvalidContentType|corrupt message|wrong version number/i.test(text)) {
    return "it does not speak TLS there: for plain HTTP write s3:http://…";
  }
  if (/certificate|UnknownIssuer|invalid peer/i.test(text)) {
    return "its TLS certificate is not trusted: give --s3-cacert FILE with its CA";
  }
  if (/timed out|timeout/i.test(text)) return "it did not answer in time";
  const detail = /\): (?:client error \(Connect\): )?(.*)$/.exec(
    String((cause as Error)?.message ?? ""),
  );
  return detail?.[1] ?? (err as Error)?.message ?? String(err);
}
