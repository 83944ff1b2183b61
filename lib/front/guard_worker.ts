/**
 * The connection guard's own thread (a Worker): it owns the public listener,
 * copies each connection's bytes to and from the HTTP server on a loopback
 * port, and closes connections whose request head is late or that sit idle.
 * Copying bytes here keeps that work off the thread that runs the handlers.
 * It speaks to {@link ConnectionGuard} in `guard.ts` only through the
 * messages typed there.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import type { GuardCommand, GuardEvent, GuardStart } from "./guard.ts";
import type { ListenAddress } from "../cli/listen.ts";
import { GuardedConnection } from "./guard_connection.ts";

/**
 * Bytes per read in each direction. A connection starts with small buffers,
 * so thousands of idle or slow ones cost little, and grows them once a read
 * fills one.
 */
const FIRST_CHUNK_BYTES = 4 * 1024;
const CHUNK_BYTES = 64 * 1024;

function send(event: GuardEvent): void {
  self.postMessage(event);
}

/** Copies bytes from one connection to another until the first ends. */
async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  observe: (bytes: Uint8Array) => void,
): Promise<void> {
  let buffer = new Uint8Array(FIRST_CHUNK_BYTES);
  while (true) {
    const count = await from.read(buffer);
    if (count === null) return;
    const bytes = buffer.subarray(0, count);
    observe(bytes);
    let written = 0;
    while (written < count) written += await to.write(bytes.subarray(written));
    if (count === buffer.length && buffer.length < CHUNK_BYTES) {
      buffer = new Uint8Array(CHUNK_BYTES);
    }
  }
}

// TLS passes through to Deno.serve: a Deno TLS connection closed before its
// handshake keeps its socket open, so a silent client could never be cut off.
function listenPublic(listen: ListenAddress): Deno.Listener {
  if (listen.transport === "unix") return Deno.listen({ transport: "unix", path: listen.path });
  return Deno.listen({ hostname: listen.hostname, port: listen.port });
}

/** The guard as it runs in this worker. */
class Guard {
  readonly #byInnerPort = new Map<number, GuardedConnection>();
  readonly #listener: Deno.Listener;
  readonly #sweeper: ReturnType<typeof setInterval>;
  #accepting = true;
  #roomFreed: PromiseWithResolvers<void> | null = null;
  readonly #lastNote = new Map<string, number>();
  /** Accepted connections not yet ended, whether or not their hop is up. */
  #connections = 0;
  /** The id of the last connection announced. */
  #lastId = 0;

  constructor(readonly options: GuardStart) {
    this.#listener = listenPublic(options.listen);
    const { headerTimeoutMs, keepAliveTimeoutMs } = options;
    const tick = Math.min(1000, Math.max(50, Math.min(headerTimeoutMs, keepAliveTimeoutMs) / 4));
    this.#sweeper = setInterval(() => this.#sweep(), tick);
    void this.#accept();
  }

  get address(): Deno.Addr {
    return this.#listener.addr;
  }

  connection(port: number): GuardedConnection | undefined {
    return this.#byInnerPort.get(port);
  }

  /** New connections go to this HTTP server from now on. */
  redirect(inner: Deno.NetAddr): void {
    this.options.inner = inner;
  }

  stopAccepting(): void {
    if (!this.#accepting) return;
    this.#accepting = false;
    this.#roomFreed?.resolve();
    try {
      this.#listener.close();
    } catch { /* already closed */ }
  }

  async closeAll(): Promise<void> {
    this.stopAccepting();
    clearInterval(this.#sweeper);
    await Promise.all([...this.#byInnerPort.values()].map((conn) => conn.close()));
  }

  async #accept(): Promise<void> {
    while (this.#accepting) {
      if (this.#connections >= this.options.maxConnections) {
        // Full: new clients wait in the kernel's queue until a connection ends.
        this.#noteOnce(
          "full",
          `${this.options.maxConnections} connections open (--max-connections): new ones wait`,
        );
        this.#roomFreed ??= Promise.withResolvers<void>();
        await this.#roomFreed.promise;
        continue;
      }
      let client: Deno.Conn;
      try {
        client = await this.#listener.accept();
      } catch (err) {
        if (!this.#accepting || err instanceof Deno.errors.BadResource) return;
        // Out of file descriptors and the like: wait a little rather than spin.
        this.#noteOnce("accept", `accepting a connection failed: ${err}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      this.#connections++; // counted from accept, before its loopback hop exists
      void this.#serve(client).finally(() => {
        this.#connections--;
        this.#roomFreed?.resolve();
        this.#roomFreed = null;
      });
    }
  }

  async #serve(client: Deno.Conn): Promise<void> {
    let inner: Deno.Conn;
    try {
      const { hostname, port } = this.options.inner;
      inner = await Deno.connect({ hostname, port });
    } catch (err) {
      this.#noteOnce("reach", `cannot reach the HTTP server: ${err}`);
      client.close();
      return;
    }
    // Small answers go out at once rather than waiting to fill a segment.
    for (const socket of [client, inner]) {
      try {
        if ("setNoDelay" in socket) (socket as Deno.TcpConn).setNoDelay(true);
      } catch { /* the client is already gone; the copying below finds out */ }
    }
    const conn = new GuardedConnection(
      client,
      inner,
      this.options.headerTimeoutMs,
      this.options.tls,
    );
    const port = (inner.localAddr as Deno.NetAddr).port;
    this.#byInnerPort.set(port, conn);
    // Announced before any byte reaches the server, so the handler finds it.
    const id = ++this.#lastId;
    send({ kind: "open", id, port, remote: client.remoteAddr });
    const upstream = pump(client, inner, (bytes) => conn.received(bytes))
      .then(() => inner.closeWrite()) // the client is done sending; let the response finish
      .catch(() => conn.close());
    await pump(inner, client, () => conn.sent()).catch(() => {});
    await conn.close();
    await upstream;
    // The port may already belong to a newer connection.
    if (this.#byInnerPort.get(port) === conn) this.#byInnerPort.delete(port);
    send({ kind: "closed", id, port });
  }

  /** Logs an error at most once a minute per kind, so a flood cannot flood the log. */
  #noteOnce(kind: string, message: string): void {
    const now = Date.now();
    if (now - (this.#lastNote.get(kind) ?? -Infinity) < 60_000) return;
    this.#lastNote.set(kind, now);
    send({ kind: "log", level: "error", message });
  }

  #sweep(): void {
    const now = Date.now();
    const { headerTimeoutMs, keepAliveTimeoutMs } = this.options;
    for (const conn of this.#byInnerPort.values()) {
      if (conn.closed) continue;
      const idle = conn.running === 0 && now - conn.lastActivity >= keepAliveTimeoutMs;
      const multiplexing = conn.http2 === true && conn.requests > 0;
      if (multiplexing || conn.phase === "idle") {
        if (idle) {
          send({ kind: "cut", reason: "idle_timeout" });
          void conn.close();
        }
      } else if (conn.phase === "head" && now >= conn.headDeadline) {
        send({ kind: "cut", reason: "header_timeout" });
        const remote = conn.client.remoteAddr;
        send({
          kind: "log",
          level: "debug",
          message:
            `closed a connection from ${"hostname" in remote ? remote.hostname : "local"}: ` +
            `request head incomplete after ${headerTimeoutMs / 1000}s (${conn.headBytes} bytes)`,
        });
        void conn.close(conn.headBytes > 0 && !conn.repliedDuringHead);
      }
    }
  }
}

let guard: Guard | null = null;

self.onmessage = async (event: MessageEvent<GuardCommand>) => {
  const command = event.data;
  switch (command.kind) {
    case "start":
      try {
        guard = new Guard(command);
        send({ kind: "listening", address: guard.address });
      } catch (err) {
        const { name, message } = err as Error;
        send({ kind: "listen-failed", name, message });
      }
      break;
    case "request-started":
      guard?.connection(command.port)?.requestStarted();
      break;
    case "request-finished":
      guard?.connection(command.port)?.requestFinished();
      break;
    case "inner":
      guard?.redirect(command.inner);
      break;
    case "stop-accepting":
      guard?.stopAccepting();
      break;
    case "close-all":
      await guard?.closeAll();
      send({ kind: "all-closed" });
      break;
  }
};
