/**
 * One connection as the guard's worker sees it: the client's socket, its
 * twin to the HTTP server, and where it is between requests (receiving a
 * head, running a request, idle), which decides when it is cut off.
 *
 * @module
 */

import { offeredProtocols } from "./tls_hello.ts";

/** What a client that never completed its head gets before the connection closes. */
const REQUEST_TIMEOUT_REPLY = new TextEncoder().encode(
  "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
);

/** An HTTP/2 connection starts with `PRI *`; no HTTP/1 method is `PRI`. */
const HTTP2_START = new TextEncoder().encode("PRI ");

/** Where a connection is between requests. */
type Phase = "head" | "request" | "idle";

/** One client connection and its twin to the HTTP server. */
export class GuardedConnection {
  phase: Phase = "head";
  /** When the head being received must be complete (epoch ms). */
  headDeadline: number;
  /** Bytes received since the current head began. */
  headBytes = 0;
  /** Whether the server sent anything since the current head began. */
  repliedDuringHead = false;
  /** The last byte moved either way (epoch ms). */
  lastActivity: number;
  /** Requests the HTTP server is handling on this connection. */
  running = 0;
  /** Requests started on this connection so far. */
  requests = 0;
  /**
   * HTTP/2 multiplexes requests and sends frames between them, so after its
   * first request only the idle rule applies; `null` until known.
   */
  http2: boolean | null = null;
  #start = new Uint8Array(0);
  #closed = false;

  constructor(
    readonly client: Deno.Conn,
    readonly inner: Deno.Conn,
    readonly headerTimeoutMs: number,
    /** The bytes are TLS, passed through to the server encrypted. */
    readonly tls: boolean,
  ) {
    const now = Date.now();
    this.headDeadline = now + headerTimeoutMs;
    this.lastActivity = now;
  }

  /** Bytes from the client, before they go on to the server. */
  received(bytes: Uint8Array): void {
    const now = Date.now();
    this.lastActivity = now;
    if (this.http2 === null) this.#detectProtocol(bytes);
    if (this.phase === "idle") {
      this.phase = "head";
      this.headDeadline = now + this.headerTimeoutMs;
      this.headBytes = 0;
      this.repliedDuringHead = false;
    }
    if (this.phase === "head") this.headBytes += bytes.length;
  }

  /** Bytes from the server, before they go on to the client. */
  sent(): void {
    this.lastActivity = Date.now();
    this.repliedDuringHead = true;
  }

  requestStarted(): void {
    this.running++;
    this.requests++;
    this.phase = "request";
  }

  requestFinished(): void {
    if (--this.running > 0) return;
    this.phase = "idle";
    this.lastActivity = Date.now();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes both sides; a plaintext client still waiting on its head first gets a 408. */
  async close(reply408 = false): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (reply408 && !this.tls) {
      await this.client.write(REQUEST_TIMEOUT_REPLY).catch(() => {});
    }
    for (const conn of [this.client, this.inner]) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  /** Plaintext HTTP/2 starts with its preface; over TLS the client offers "h2" in its hello. */
  #detectProtocol(bytes: Uint8Array): void {
    const start = new Uint8Array(this.#start.length + bytes.length);
    start.set(this.#start);
    start.set(bytes, this.#start.length);
    let http2: boolean | null;
    if (this.tls) {
      http2 = offeredProtocols(start)?.includes("h2") ?? null;
    } else {
      http2 = start.length < HTTP2_START.length
        ? null
        : HTTP2_START.every((byte, i) => start[i] === byte);
    }
    this.http2 = http2;
    this.#start = http2 === null ? start : new Uint8Array(0);
  }
}
