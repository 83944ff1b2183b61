/**
 * A small S3 client: requests signed with AWS Signature V4 (`aws4fetch`'s
 * signer). Requests without a body, or with a whole one, go through
 * `fetch` (kept-alive connections, streamed answers with back-pressure).
 * A streamed upload goes over a connection of its own (`s3_put.ts`):
 * `fetch` would send it chunked, which S3 refuses, and `node:http` in Deno
 * queues what it is given (measured: a 64 MiB body to a slow reader grew
 * the process by 50 MiB), while a socket write waits for the socket.
 * Credentials go into the signature only: never into a message.
 *
 * @module
 */

import { AwsV4Signer } from "aws4fetch";
import type { S3Location } from "../choice.ts";
import type { S3Credentials } from "./location.ts";
import { putStreamed } from "./put.ts";
import { type S3Request, type S3Response, S3TransportError, transportReason } from "./http.ts";

/** Options of {@link S3Client}. */
export interface S3ClientOptions {
  /** PEM certificates to trust besides the system's (a private CA, `AWS_CA_BUNDLE`). */
  ca?: string[];
  /** How long (ms) the head of an answer may take, or a streamed upload may stall. */
  idleMs?: number;
}

const EMPTY_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** A key's path, each segment percent-encoded as SigV4 wants it (RFC 3986, single encoding). */
function encodeKey(key: string): string {
  return key.split("/").map((segment) =>
    encodeURIComponent(segment).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    )
  ).join("/");
}

/** An S3 client for one bucket. */
export class S3Client {
  readonly #location: S3Location;
  readonly #credentials: S3Credentials;
  readonly #idleMs: number;
  readonly #ca: string[] | undefined;
  readonly #http: Deno.HttpClient | undefined;

  /**
   * @param location Endpoint and bucket.
   * @param credentials Keys and region.
   * @param options Trusted CAs and the idle timeout.
   */
  constructor(location: S3Location, credentials: S3Credentials, options: S3ClientOptions = {}) {
    this.#location = location;
    this.#credentials = credentials;
    this.#idleMs = options.idleMs ?? 60_000;
    this.#ca = options.ca;
    this.#http = options.ca ? Deno.createHttpClient({ caCerts: options.ca }) : undefined;
  }

  /** The bucket and the first part of every key (`prefix/`), for messages. */
  get where(): string {
    return `${this.#location.endpoint}/${this.#location.bucket}/${this.#location.prefix}`;
  }

  /**
   * Sends one request and waits for the head of the answer.
   *
   * @param request What to send.
   * @returns The answer; its body streams.
   * @throws {S3TransportError} When the store cannot be reached or stops answering.
   */
  async send(request: S3Request): Promise<S3Response> {
    const { bucket, endpoint } = this.#location;
    const query = new URLSearchParams(request.query ?? {}).toString();
    const url = `${endpoint}/${bucket}${request.key === null ? "" : `/${encodeKey(request.key)}`}` +
      (query ? `?${query}` : "");
    const body = request.body ?? null;
    const payloadHash = request.payloadHash ??
      (body === null || (body instanceof Uint8Array && body.length === 0)
        ? EMPTY_HASH
        : "UNSIGNED-PAYLOAD");
    const signed = await new AwsV4Signer({
      method: request.method,
      url,
      headers: { ...request.headers, "x-amz-content-sha256": payloadHash },
      accessKeyId: this.#credentials.accessKeyId,
      secretAccessKey: this.#credentials.secretAccessKey,
      sessionToken: this.#credentials.sessionToken,
      service: "s3",
      region: this.#credentials.region,
    }).sign();
    if (typeof body === "function") {
      return await putStreamed(new URL(signed.url), signed.headers, body, {
        contentLength: request.contentLength ?? 0,
        ca: this.#ca,
        idleMs: this.#idleMs,
        signal: request.signal,
      });
    }
    return await this.#fetch(
      request.method,
      String(signed.url),
      signed.headers,
      body,
      request.signal,
    );
  }

  async #fetch(
    method: string,
    url: string,
    headers: Headers,
    body: Uint8Array | null,
    signal?: AbortSignal,
  ): Promise<S3Response> {
    // The head of the answer must come within the idle time; the body then streams at its pace.
    const late = new AbortController();
    const timer = setTimeout(() => late.abort(), this.#idleMs);
    const both = signal ? AbortSignal.any([signal, late.signal]) : late.signal;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === null ? undefined : (body as Uint8Array<ArrayBuffer>),
        client: this.#http,
        signal: both,
      });
    } catch (err) {
      const why = late.signal.aborted
        ? `no answer for ${this.#idleMs / 1000} s`
        : transportReason(err);
      throw new S3TransportError(`cannot reach ${new URL(url).host}: ${why}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    const stream = response.body ?? new Blob([]).stream();
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: stream,
      text: () => new Response(stream).text(),
    };
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#http?.close();
  }
}
