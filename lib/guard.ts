/**
 * The connection guard: a thin front for `Deno.serve`, which has no timeout
 * for request heads (a client sending its headers one byte a second holds a
 * connection forever). The guard accepts the public connections (TCP, TLS or
 * a unix socket), passes their bytes both ways to the HTTP server on a private
 * loopback port, and closes a connection whose request head does not arrive
 * in time or that sits idle between requests.
 *
 * It does not parse HTTP: the HTTP server tells it where a head ended, because
 * the wrapped handler reports each request it starts and finishes, found by
 * the loopback port the request came in on. That is also how the handler
 * learns the client's real address.
 *
 * @module
 */

import type { ListenAddress } from "./config.ts";
import { statusResponse } from "./http_error.ts";
import { STATUS_CODE } from "./http_status.ts";
import type { Logger } from "./log.ts";

/** How the guard treats slow and idle connections. */
export interface GuardOptions {
  /** A request head must be complete this long (ms) after its first byte, or after the connection opened. */
  headerTimeoutMs: number;
  /** A connection with no request running and no byte moving either way this long (ms) is closed. */
  keepAliveTimeoutMs: number;
  log: Logger;
}

/** A request handler as `Deno.serve` takes it. */
type Handler = (request: Request, info: Deno.ServeHandlerInfo) => Promise<Response>;

/** Bytes per read in each direction; two buffers per connection. */
const CHUNK_BYTES = 64 * 1024;

/** What a client that never completed its head gets before the connection closes. */
const REQUEST_TIMEOUT_REPLY = new TextEncoder().encode(
  "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
);

/** An HTTP/2 connection starts with `PRI *`; no HTTP/1 method is `PRI`. */
const HTTP2_START = new TextEncoder().encode("PRI ");

/** Where a connection is between requests. */
type Phase = "head" | "request" | "idle";

/** One client connection and its twin to the HTTP server. */
class GuardedConnection {
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
  /** HTTP/2 multiplexes requests, so only the idle rule applies; `null` until known. */
  http2: boolean | null = null;
  #start = new Uint8Array(0);
  #closed = false;

  constructor(
    readonly client: Deno.Conn,
    readonly inner: Deno.Conn,
    now: number,
    headerTimeoutMs: number,
  ) {
    this.headDeadline = now + headerTimeoutMs;
    this.lastActivity = now;
  }

  /** Bytes from the client, before they go on to the server. */
  received(bytes: Uint8Array, headerTimeoutMs: number): void {
    const now = Date.now();
    this.lastActivity = now;
    if (this.http2 === null) this.#detectProtocol(bytes);
    if (this.phase === "idle") {
      this.phase = "head";
      this.headDeadline = now + headerTimeoutMs;
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

  /** Closes both sides; a client still waiting on a head first gets a 408. */
  async close(reply408 = false): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (reply408) {
      await this.client.write(REQUEST_TIMEOUT_REPLY).catch(() => {});
    }
    for (const conn of [this.client, this.inner]) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  #detectProtocol(bytes: Uint8Array): void {
    const start = new Uint8Array(this.#start.length + bytes.length);
    start.set(this.#start);
    start.set(bytes, this.#start.length);
    if (start.length < HTTP2_START.length) {
      this.#start = start;
      return;
    }
    this.http2 = HTTP2_START.every((byte, i) => start[i] === byte);
    this.#start = new Uint8Array(0);
  }
}

/** Copies bytes from one connection to another until the first ends. */
async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  observe: (bytes: Uint8Array) => void,
): Promise<void> {
  const buffer = new Uint8Array(CHUNK_BYTES);
  while (true) {
    const count = await from.read(buffer);
    if (count === null) return;
    const bytes = buffer.subarray(0, count);
    observe(bytes);
    let written = 0;
    while (written < count) written += await to.write(bytes.subarray(written));
  }
}

function listenPublic(
  listen: ListenAddress,
  tls: { cert: string; key: string } | null,
): Deno.Listener {
  if (listen.transport === "unix") return Deno.listen({ transport: "unix", path: listen.path });
  const { hostname, port } = listen;
  if (tls) return Deno.listenTls({ hostname, port, ...tls, alpnProtocols: ["h2", "http/1.1"] });
  return Deno.listen({ hostname, port });
}

/** The front listener and the connections it passes on. */
export class ConnectionGuard {
  readonly #options: GuardOptions;
  readonly #byInnerPort = new Map<number, GuardedConnection>();
  #listener: Deno.Listener | null = null;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #accepting = false;
  #acceptLoop: Promise<void> = Promise.resolve();
  readonly #serving = new Set<Promise<void>>();

  /** @param options Timeouts and the log. */
  constructor(options: GuardOptions) {
    this.#options = options;
  }

  /**
   * Listens on the public address and starts passing connections on.
   *
   * @param listen The public address.
   * @param tls Certificate and key in PEM, when serving TLS.
   * @param inner The HTTP server's loopback address.
   * @returns The address clients connect to.
   * @throws {Deno.errors.AddrInUse} And other listen errors.
   */
  start(
    listen: ListenAddress,
    tls: { cert: string; key: string } | null,
    inner: Deno.NetAddr,
  ): Deno.Addr {
    const listener = listenPublic(listen, tls);
    this.#listener = listener;
    this.#accepting = true;
    const { headerTimeoutMs, keepAliveTimeoutMs } = this.#options;
    const tick = Math.min(1000, Math.max(50, Math.min(headerTimeoutMs, keepAliveTimeoutMs) / 4));
    this.#sweeper = setInterval(() => this.#sweep(), tick);
    this.#acceptLoop = this.#accept(listener, inner);
    return listener.addr;
  }

  /** Connections currently open. */
  get openConnections(): number {
    return this.#byInnerPort.size;
  }

  /**
   * Wraps the HTTP handler: marks the request's connection busy while it
   * runs and hands the handler the client's own address. A request that did
   * not come through the guard (someone connecting to the loopback port
   * directly) is refused.
   *
   * @param handler The handler to wrap.
   * @returns The handler to give `Deno.serve`.
   */
  wrap(handler: Handler): Handler {
    return async (request, info) => {
      const remote = info.remoteAddr as Deno.Addr;
      const conn = "port" in remote ? this.#byInnerPort.get(remote.port) : undefined;
      if (!conn) {
        await request.body?.cancel().catch(() => {});
        return statusResponse(STATUS_CODE.Forbidden, { connection: "close" });
      }
      conn.requestStarted();
      try {
        return await handler(request, { ...info, remoteAddr: conn.client.remoteAddr });
      } finally {
        conn.requestFinished();
      }
    };
  }

  /** Stops accepting connections; open ones carry on. */
  stopAccepting(): void {
    if (!this.#accepting) return;
    this.#accepting = false;
    try {
      this.#listener?.close();
    } catch { /* already closed */ }
  }

  /** Settles when every open connection has ended by itself. */
  async finished(): Promise<void> {
    await Promise.all(this.#serving);
  }

  /** Stops accepting and closes every open connection. */
  async closeAll(): Promise<void> {
    this.stopAccepting();
    clearInterval(this.#sweeper);
    await Promise.all([...this.#byInnerPort.values()].map((conn) => conn.close()));
    await this.#acceptLoop;
  }

  async #accept(listener: Deno.Listener, inner: Deno.NetAddr): Promise<void> {
    while (this.#accepting) {
      let client: Deno.Conn;
      try {
        client = await listener.accept();
      } catch (err) {
        if (!this.#accepting || err instanceof Deno.errors.BadResource) return;
        // Out of file descriptors and the like: wait a little rather than spin.
        this.#options.log.error(`accepting a connection failed: ${(err as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const serving = this.#serve(client, inner);
      this.#serving.add(serving);
      void serving.finally(() => this.#serving.delete(serving));
    }
  }

  async #serve(client: Deno.Conn, server: Deno.NetAddr): Promise<void> {
    let inner: Deno.Conn;
    try {
      inner = await Deno.connect({ hostname: server.hostname, port: server.port });
    } catch (err) {
      this.#options.log.error(`cannot reach the HTTP server: ${(err as Error).message}`);
      client.close();
      return;
    }
    const { headerTimeoutMs } = this.#options;
    const conn = new GuardedConnection(client, inner, Date.now(), headerTimeoutMs);
    const port = (inner.localAddr as Deno.NetAddr).port;
    this.#byInnerPort.set(port, conn);
    const upstream = pump(client, inner, (bytes) => conn.received(bytes, headerTimeoutMs))
      .then(() => inner.closeWrite()) // the client is done sending; let the response finish
      .catch(() => conn.close());
    const downstream = pump(inner, client, () => conn.sent()).catch(() => {});
    await downstream;
    await conn.close();
    await upstream;
    this.#byInnerPort.delete(port);
  }

  #sweep(): void {
    const now = Date.now();
    const { headerTimeoutMs, keepAliveTimeoutMs, log } = this.#options;
    for (const conn of this.#byInnerPort.values()) {
      if (conn.closed) continue;
      const idle = conn.running === 0 && now - conn.lastActivity >= keepAliveTimeoutMs;
      if (conn.http2 || conn.phase === "idle") {
        if (idle) void conn.close();
      } else if (conn.phase === "head" && now >= conn.headDeadline) {
        log.debug(
          `closed a connection from ${describe(conn.client.remoteAddr)}: ` +
            `request head incomplete after ${headerTimeoutMs / 1000}s (${conn.headBytes} bytes)`,
        );
        void conn.close(conn.headBytes > 0 && !conn.repliedDuringHead);
      }
    }
  }
}

function describe(addr: Deno.Addr): string {
  return "hostname" in addr ? addr.hostname : "local";
}
