/**
 * The connection guard: a thin front for `Deno.serve`, which has no timeout
 * for request heads (a client sending its headers one byte a second holds a
 * connection forever). The guard accepts the public connections (TCP, TLS or
 * a unix socket), passes their bytes both ways to the HTTP server on a private
 * loopback port, and closes a connection whose request head does not arrive
 * in time or that sits idle between requests. The copying runs in a Worker
 * (`guard_worker.ts`), on its own thread.
 *
 * It does not parse HTTP: the HTTP server tells it where a head ended, because
 * the wrapped handler reports each request it starts and finishes, found by
 * the loopback port the request came in on. That is also how the handler
 * learns the client's real address.
 *
 * @module
 */

import { ConfigError } from "../base/errors.ts";
import { formatListen, type ListenAddress } from "../cli/listen.ts";
import type { ConnectionCounts, FrontHandler } from "./types.ts";

/** Why the guard closed a connection. */
export type ConnectionCloseReason = "header_timeout" | "idle_timeout";

/** The address the guard's connections to the HTTP server come from. */
const GUARD_SOURCE = "127.0.0.1";

/** Where the guard reports. */
export interface GuardLog {
  debug(message: string): void;
  error(message: string): void;
}

/** How the guard treats slow and idle connections. */
export interface GuardOptions {
  /** A request head must be complete this long (ms) after its first byte, or after the connection opened. */
  headerTimeoutMs: number;
  /** A connection with no request running and no byte moving either way this long (ms) is closed. */
  keepAliveTimeoutMs: number;
  /**
   * Connections beyond this wait in the kernel's queue. Each takes four file
   * descriptors, and Deno.serve stops for good when accept() runs out of them.
   */
  maxConnections: number;
  log: GuardLog;
}

/** What the worker needs to start. */
export interface GuardStart {
  kind: "start";
  listen: ListenAddress;
  /** Clients speak TLS, which the HTTP server ends; the guard passes it through. */
  tls: boolean;
  inner: Deno.NetAddr;
  headerTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Connections beyond this wait in the kernel's queue until one closes. */
  maxConnections: number;
}

/** Messages to the worker. */
export type GuardCommand =
  | GuardStart
  | { kind: "request-started" | "request-finished"; port: number }
  | { kind: "inner"; inner: Deno.NetAddr }
  | { kind: "stop-accepting" | "close-all" };

/** Messages from the worker. */
export type GuardEvent =
  | { kind: "listening"; address: Deno.Addr }
  | { kind: "listen-failed"; name: string; message: string }
  | { kind: "open"; id: number; port: number; remote: Deno.Addr }
  | { kind: "closed"; id: number; port: number }
  | { kind: "cut"; reason: ConnectionCloseReason }
  | { kind: "log"; level: "debug" | "error"; message: string }
  | { kind: "all-closed" };

/** The answer to a request that did not come through the guard. */
function refused(): Response {
  return new Response("Forbidden\n", {
    status: 403,
    headers: { "content-type": "text/plain; charset=utf-8", connection: "close" },
  });
}

/** How long a request waits for the worker to announce its connection (they race). */
const ANNOUNCE_WAIT_MS = 2000;

/** The main thread's side of the guard: the worker's handle and the open connections. */
export class ConnectionGuard implements ConnectionCounts {
  readonly #options: GuardOptions;
  /**
   * Each open connection by its loopback port: the worker's id for it (a
   * port is used again after a close, and a late "closed" must not remove
   * its successor) and the client's address.
   */
  readonly #open = new Map<number, { id: number; remote: Deno.Addr }>();
  readonly #closed: Record<ConnectionCloseReason, number> = { header_timeout: 0, idle_timeout: 0 };
  /** Requests waiting for their connection to be announced (HTTP/2 may bring several). */
  readonly #announced = new Map<number, Set<(remote: Deno.Addr) => void>>();
  #worker: Worker | null = null;
  #allClosed = Promise.withResolvers<void>();
  #drained: PromiseWithResolvers<void> | null = null;
  readonly #failed = Promise.withResolvers<never>();

  /** @param options Timeouts and the log. */
  constructor(options: GuardOptions) {
    this.#options = options;
  }

  /**
   * Starts the worker, which listens on the public address.
   *
   * @param listen The public address.
   * @param tls Whether clients speak TLS (ended by the HTTP server behind).
   * @param inner The HTTP server's loopback address.
   * @returns The address clients connect to.
   * @throws {ConfigError} When the address cannot be listened on.
   */
  async start(
    listen: ListenAddress,
    tls: boolean,
    inner: Deno.NetAddr,
  ): Promise<Deno.Addr> {
    const worker = new Worker(new URL("./guard_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#worker = worker;
    const listening = Promise.withResolvers<Deno.Addr>();
    worker.onmessage = (event: MessageEvent<GuardEvent>) => {
      const message = event.data;
      if (message.kind === "listening") listening.resolve(message.address);
      else if (message.kind === "listen-failed") {
        listening.reject(
          new ConfigError(`Cannot listen on ${formatListen(listen)}: ${message.message}`),
        );
      } else this.#onEvent(message);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      const failure = new Error(`connection guard failed: ${event.message}`);
      this.#options.log.error(failure.message);
      listening.reject(failure);
      // Nobody listens on the public address any more: better to exit (and
      // be restarted) than to run on deaf.
      this.#failed.reject(failure);
    };
    this.#post({
      kind: "start",
      listen,
      tls,
      inner: { transport: "tcp", hostname: inner.hostname, port: inner.port },
      headerTimeoutMs: this.#options.headerTimeoutMs,
      keepAliveTimeoutMs: this.#options.keepAliveTimeoutMs,
      maxConnections: this.#options.maxConnections,
    });
    try {
      return await listening.promise;
    } catch (err) {
      worker.terminate();
      throw err;
    }
  }

  /** Keeps track of what the worker reports about its connections. */
  #onEvent(message: GuardEvent): void {
    switch (message.kind) {
      case "open":
        this.#open.set(message.port, { id: message.id, remote: message.remote });
        for (const waiter of this.#announced.get(message.port) ?? []) waiter(message.remote);
        this.#announced.delete(message.port);
        break;
      case "closed":
        if (this.#open.get(message.port)?.id === message.id) this.#open.delete(message.port);
        if (this.#open.size === 0) this.#drained?.resolve();
        break;
      case "cut":
        this.#closed[message.reason]++;
        break;
      case "log":
        this.#options.log[message.level](message.message);
        break;
      case "all-closed":
        this.#allClosed.resolve();
        break;
    }
  }

  /** Rejects if the guard's Worker fails; the public address is gone then. */
  get failed(): Promise<never> {
    return this.#failed.promise;
  }

  /** Connections currently open. */
  get openConnections(): number {
    return this.#open.size;
  }

  /** Connections currently open (for metrics). */
  open(): number {
    return this.#open.size;
  }

  /** Connections the guard closed, by reason (for metrics). */
  closed(): Record<string, number> {
    return { ...this.#closed };
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
  wrap(handler: FrontHandler): FrontHandler {
    return async (request, info) => {
      const local = info.remoteAddr as Deno.Addr;
      // The guard connects from 127.0.0.1, and holds that address's port while its connection
      // is open: a local program binding the same port on another loopback address is not it.
      const port = "hostname" in local && local.hostname === GUARD_SOURCE ? local.port : -1;
      const remote = this.#open.get(port)?.remote ?? await this.#waitForAnnouncement(port);
      if (!remote) {
        await request.body?.cancel().catch(() => {});
        return refused();
      }
      this.#post({ kind: "request-started", port });
      try {
        return await handler(request, { ...info, remoteAddr: remote });
      } finally {
        this.#post({ kind: "request-finished", port });
      }
    };
  }

  /**
   * Sends new connections to another HTTP server (after the first one failed).
   *
   * @param inner The new server's loopback address.
   */
  redirect(inner: Deno.NetAddr): void {
    this.#post({
      kind: "inner",
      inner: { transport: "tcp", hostname: inner.hostname, port: inner.port },
    });
  }

  /** Stops accepting connections; open ones carry on. */
  stopAccepting(): void {
    this.#post({ kind: "stop-accepting" });
  }

  /** Settles when every open connection has ended by itself. */
  finished(): Promise<void> {
    if (this.#open.size === 0) return Promise.resolve();
    this.#drained ??= Promise.withResolvers<void>();
    return this.#drained.promise;
  }

  /** Stops accepting, closes every open connection and ends the worker. */
  async closeAll(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    this.#post({ kind: "close-all" });
    await this.#allClosed.promise;
    worker.terminate();
    this.#worker = null;
  }

  #post(command: GuardCommand): void {
    this.#worker?.postMessage(command);
  }

  /** The worker announces a connection by message, which may come after its first request. */
  #waitForAnnouncement(port: number): Promise<Deno.Addr | undefined> {
    if (port < 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiters = this.#announced.get(port) ?? new Set();
      this.#announced.set(port, waiters);
      const timer = setTimeout(() => {
        waiters.delete(announced);
        if (waiters.size === 0 && this.#announced.get(port) === waiters) {
          this.#announced.delete(port);
        }
        resolve(undefined);
      }, ANNOUNCE_WAIT_MS);
      const announced = (remote: Deno.Addr): void => {
        clearTimeout(timer);
        resolve(remote);
      };
      waiters.add(announced);
    });
  }
}
