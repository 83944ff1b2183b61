/**
 * The object store's operations as the storage uses them: HEAD, GET (with a
 * range), PUT, DELETE and paged listings, each answering in protocol terms
 * (a size, a stream, nothing) or failing with a `StorageError`.
 *
 * @module
 */

import type { S3Client } from "./client.ts";
import type { BodyProducer, S3Request, S3Response } from "./http.ts";
import { answerError, thrownError } from "./errors.ts";
import { type ListResult, parseList } from "./xml.ts";
import { StorageError } from "../types.ts";

/** What a PUT sends besides its body. */
export interface PutOptions {
  contentLength: number;
  /** The body's SHA-256 (hex) for the store to check, or `UNSIGNED-PAYLOAD`. */
  payloadHash: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** A bucket's operations, failures mapped. */
export class S3Ops {
  /** @param client The signed client. */
  constructor(readonly client: S3Client) {}

  /** Sends a request; an answer that is not a success (or `allow`ed) becomes a `StorageError`. */
  async send(request: S3Request, action: string, allow: number[] = []): Promise<S3Response> {
    let response: S3Response;
    try {
      response = await this.client.send(request);
    } catch (err) {
      throw thrownError(err, action);
    }
    if ((response.status >= 200 && response.status < 300) || allow.includes(response.status)) {
      return response;
    }
    throw await answerError(response, action);
  }

  /** An object's size, or `null` when there is none. */
  async head(key: string, signal?: AbortSignal): Promise<number | null> {
    const response = await this.send({ method: "HEAD", key, signal }, "look up an object", [404]);
    await response.body.cancel().catch(() => {});
    if (response.status === 404) return null;
    return Number(response.headers["content-length"] ?? NaN);
  }

  /** An object's user metadata header (`x-amz-meta-NAME`), `undefined` when missing; `null` for no object. */
  async metadata(
    key: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<string | undefined | null> {
    const response = await this.send({ method: "HEAD", key, signal }, "look up an object", [404]);
    await response.body.cancel().catch(() => {});
    if (response.status === 404) return null;
    return response.headers[`x-amz-meta-${name}`];
  }

  /** An object's bytes (`start`..`end` inclusive, or all), as the store streams them. */
  async get(
    key: string,
    range: [number, number] | null,
    signal?: AbortSignal,
  ): Promise<S3Response> {
    const headers: Record<string, string> = range ? { range: `bytes=${range[0]}-${range[1]}` } : {};
    return await this.send({ method: "GET", key, headers, signal }, "read an object");
  }

  /** Stores a body under `key`; resolves once the store confirmed it. */
  async put(key: string, body: Uint8Array | BodyProducer, options: PutOptions): Promise<void> {
    const response = await this.send(
      { method: "PUT", key, body, ...options },
      "store an object",
    );
    await response.body.cancel().catch(() => {});
  }

  /** Deletes a key; a missing one is fine. */
  async delete(key: string, signal?: AbortSignal): Promise<void> {
    const response = await this.send({ method: "DELETE", key, signal }, "delete an object", [404]);
    await response.body.cancel().catch(() => {});
  }

  /**
   * The keys under `prefix`, a page (up to 1000) per request, as they come.
   *
   * @param prefix Where the keys start.
   * @param options `delimiter` for one level only; `limit` for fewer per page.
   */
  async *list(
    prefix: string,
    options: { delimiter?: string; limit?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<ListResult> {
    let token: string | null = null;
    do {
      const query: Record<string, string> = { "list-type": "2", prefix };
      if (options.delimiter) query.delimiter = options.delimiter;
      if (options.limit) query["max-keys"] = String(options.limit);
      if (token) query["continuation-token"] = token;
      const response = await this.send(
        { method: "GET", key: null, query, signal: options.signal },
        "list objects",
      );
      let page: ListResult;
      try {
        page = parseList(await response.text());
      } catch (err) {
        // The answer broke off, or was not a listing: the store is not there as it should be.
        throw new StorageError("Unavailable", `list objects: ${(err as Error).message}`);
      }
      yield page;
      token = page.next;
    } while (token);
  }
}
