/**
 * The connection front: the server accepts each connection itself and runs
 * Deno's HTTP server on it (`deno_internal.ts`), so it knows every
 * connection and can close one without a byte passing through JavaScript.
 *
 * Rules, checked by a sweep a few times a second:
 * - a new connection must start its first request within `--header-timeout`
 *   (a client sending its head a byte a second is cut off);
 * - a connection with no request running (a response counts until its last
 *   byte is sent) is closed after `--keepalive-timeout`, which also bounds a
 *   slow head on a reused connection;
 * - at most `--max-connections` are open; more wait in the kernel's queue,
 *   and running out of file descriptors only delays accepting.
 *
 * Over TLS the handshake comes first. Deno cannot close a TLS connection
 * before its handshake has completed (measured in 2.9: `close()`,
 * `closeWrite()` and an aborted server all leave the socket open), so a
 * client past the head timeout without a finished handshake keeps its place
 * among `--max-connections` until the handshake ends: when the client goes
 * away (it fails) or completes it late (the connection is then closed at
 * once, unserved). Open connections stay bounded either way.
 *
 * @module
 */

import { ConfigError } from "../base/errors.ts";
import { formatListen } from "../cli/listen.ts";
import type { ConnectionServer, ServeConnection } from "./deno_internal.ts";
import { clearStaleSocket, removeSocket } from "./socket.ts";
import type { CloseReason, ConnectionCounts, Front, FrontHandler, FrontSettings } from "./types.ts";

/** One open connection and where it is. */
interface Tracked {
  readonly conn: Deno.Conn;
  readonly opened: number;
  readonly remote: Deno.Addr;
  readonly closer: AbortController;
  server: ConnectionServer | null;
  /** Requests whose response is not yet fully sent. */
  running: number;
  /** Requests started so far. */
  requests: number;
  /** When the last response was fully sent. */
  idleSince: number;
  /** Its server was asked to shut down; it closes by itself, and may not be aborted any more. */
  draining: boolean;
  /** A TLS connection whose handshake has not completed: no server runs on it yet. */
  handshaking: boolean;
  /** Closed by a rule while handshaking: closed as soon as the handshake ends. */
  cut: boolean;
}

function listenOn(settings: FrontSettings): Deno.Listener {
  const { listen, tls } = settings;
  if (listen.transport === "unix") return Deno.listen({ transport: "unix", path: listen.path });
  const { hostname, port } = listen;
  return tls
    ? Deno.listenTls({ hostname, port, ...tls, alpnProtocols: ["h2", "http/1.1"] })
    : Deno.listen({ hostname, port });
}

/** Closes a connection at once (never one whose server is shutting down: Deno throws then). */
function closeNow(c: Tracked): void {
  if (c.handshaking) {
    c.cut = true; // Deno cannot close it yet: when the handshake ends
    return;
  }
  if (!c.draining) c.closer.abort();
}

function hostOf(addr: Deno.Addr): string {
  return "hostname" in addr ? addr.hostname : "local";
}

/** Deno's HTTP server on connections this front accepts and watches. */
export class ConnectionFront implements Front {
  readonly description: string;
  readonly failed: Promise<never> = new Promise<never>(() => {});
  readonly #settings: FrontSettings;
  readonly #serveConnection: ServeConnection;
  readonly #open = new Set<Tracked>();
  readonly #closed: Record<CloseReason, number> = { header_timeout: 0, idle_timeout: 0 };
  readonly #lastNote = new Map<string, number>();
  #listener: Deno.Listener | null = null;
  #accepting = false;
  #roomFreed: PromiseWithResolvers<void> | null = null;
  #sweeper: ReturnType<typeof setInterval> | null = null;

  /**
   * @param settings Address, TLS, rules and log.
   * @param serveConnection Deno's HTTP server for one connection.
   */
  constructor(settings: FrontSettings, serveConnection: ServeConnection) {
    this.#settings = settings;
    this.#serveConnection = serveConnection;
    const { headerTimeoutMs: head, keepAliveTimeoutMs: idle } = settings;
    this.description = [
      head > 0 ? `request heads within ${head / 1000}s` : "request heads without a time limit",
      idle > 0 ? `idle connections closed after ${idle / 1000}s` : "idle connections kept",
      `at most ${settings.maxConnections} connections`,
    ].join(", ");
  }

  get connections(): ConnectionCounts {
    return { open: () => this.#open.size, closed: () => ({ ...this.#closed }) };
  }

  async serve(handler: FrontHandler): Promise<Deno.Addr> {
    const { listen } = this.#settings;
    await clearStaleSocket(listen);
    try {
      this.#listener = listenOn(this.#settings);
    } catch (err) {
      throw new ConfigError(`Cannot listen on ${formatListen(listen)}: ${(err as Error).message}`);
    }
    this.#accepting = true;
    const { headerTimeoutMs, keepAliveTimeoutMs } = this.#settings;
    const rules = [headerTimeoutMs, keepAliveTimeoutMs].filter((t) => t > 0);
    if (rules.length > 0) {
      const tick = Math.min(1000, Math.max(50, Math.min(...rules) / 4));
      this.#sweeper = setInterval(() => this.#sweep(), tick);
    }
    void this.#acceptLoop(handler);
    return this.#listener.addr;
  }

  stopAccepting(): void {
    if (!this.#accepting) return;
    this.#accepting = false;
    this.#roomFreed?.resolve();
    try {
      this.#listener?.close();
    } catch { /* already closed */ }
  }

  async drain(): Promise<void> {
    this.stopAccepting();
    // Each connection's server stops reading requests, sends what is under way, then closes.
    await Promise.all([...this.#open].map((c) => {
      c.draining = true;
      return c.server?.shutdown().catch(() => {});
    }));
  }

  /**
   * Closes the connections that were not drained; a drained one that is
   * still sending closes with the process (Deno cannot abort it any more).
   */
  async close(): Promise<void> {
    this.stopAccepting();
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    const closing = [...this.#open].filter((c) => !c.draining && !c.handshaking);
    for (const c of closing) closeNow(c);
    await Promise.all(closing.map((c) => c.server?.finished.catch(() => {})));
    await removeSocket(this.#settings.listen);
  }

  async #acceptLoop(handler: FrontHandler): Promise<void> {
    const { maxConnections } = this.#settings;
    while (this.#accepting && this.#listener) {
      if (this.#open.size >= maxConnections) {
        this.#noteOnce(
          "full",
          `${maxConnections} connections open (--max-connections): new ones wait`,
        );
        this.#roomFreed ??= Promise.withResolvers<void>();
        await this.#roomFreed.promise;
        continue;
      }
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (!this.#accepting || err instanceof Deno.errors.BadResource) return;
        // Out of file descriptors and the like: wait a little rather than spin.
        this.#noteOnce("accept", `accepting a connection failed: ${err}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      this.#track(conn, handler);
    }
  }

  #track(conn: Deno.Conn, handler: FrontHandler): void {
    const now = Date.now();
    const tracked: Tracked = {
      conn,
      opened: now,
      remote: conn.remoteAddr,
      closer: new AbortController(),
      server: null,
      running: 0,
      requests: 0,
      idleSince: now,
      draining: false,
      handshaking: this.#settings.tls !== null && conn.remoteAddr.transport === "tcp",
      cut: false,
    };
    this.#open.add(tracked);
    try {
      if (conn.remoteAddr.transport === "tcp") (conn as Deno.TcpConn).setNoDelay(true);
    } catch { /* the client is gone already; serving finds out */ }
    if (!tracked.handshaking) return this.#serveOne(tracked, handler);
    // Deno serves a TLS connection only once nothing else reads it: the handshake first.
    (conn as Deno.TlsConn).handshake().then(() => {
      tracked.handshaking = false;
      if (!tracked.cut && this.#accepting) return this.#serveOne(tracked, handler);
      this.#drop(tracked);
    }, () => this.#drop(tracked)); // not TLS (plain HTTP on the TLS port), or the client went
  }

  /** Closes a connection that will not be served, and forgets it. */
  #drop(tracked: Tracked): void {
    tracked.handshaking = false;
    try {
      tracked.conn.close();
    } catch { /* closed already */ }
    this.#forget(tracked);
  }

  #serveOne(tracked: Tracked, handler: FrontHandler): void {
    const done = (): void => {
      tracked.running--;
      tracked.idleSince = Date.now();
    };
    const watched: FrontHandler = (request, info) => {
      tracked.running++;
      tracked.requests++;
      const { completed } = info;
      completed.then(done, done);
      // The connection's own address: Deno's getter throws for a unix socket served this way.
      return handler(request, { remoteAddr: tracked.remote, completed });
    };
    const server = this.#serveConnection(
      tracked.conn,
      tracked.closer.signal,
      watched,
      this.#settings.onError,
    );
    tracked.server = server;
    server.finished.catch(() => {}).finally(() => this.#forget(tracked));
  }

  #forget(tracked: Tracked): void {
    this.#open.delete(tracked);
    this.#roomFreed?.resolve();
    this.#roomFreed = null;
  }

  #sweep(): void {
    const now = Date.now();
    const { headerTimeoutMs, keepAliveTimeoutMs } = this.#settings;
    for (const c of this.#open) {
      if (c.running > 0 || c.draining || c.cut || c.closer.signal.aborted) continue;
      if (c.requests === 0) {
        if (headerTimeoutMs > 0 && now - c.opened >= headerTimeoutMs) {
          this.#cut(c, "header_timeout", `no request within ${headerTimeoutMs / 1000}s`);
        }
      } else if (keepAliveTimeoutMs > 0 && now - c.idleSince >= keepAliveTimeoutMs) {
        this.#cut(c, "idle_timeout", `idle for ${keepAliveTimeoutMs / 1000}s`);
      }
    }
  }

  #cut(c: Tracked, reason: CloseReason, why: string): void {
    this.#closed[reason]++;
    this.#settings.log.debug(`closed a connection from ${hostOf(c.remote)}: ${why}`);
    closeNow(c);
  }

  /** Logs an error at most once a minute per kind, so a flood cannot flood the log. */
  #noteOnce(kind: string, message: string): void {
    const now = Date.now();
    if (now - (this.#lastNote.get(kind) ?? -Infinity) < 60_000) return;
    this.#lastNote.set(kind, now);
    this.#settings.log.error(message);
  }
}
