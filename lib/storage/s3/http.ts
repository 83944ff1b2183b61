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
