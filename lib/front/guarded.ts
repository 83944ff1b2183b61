/**
 * The guarded front: `Deno.serve` on a private loopback port behind the
 * connection guard (`guard.ts`), which owns the public address and cuts off
 * slow request heads and idle connections.
 *
 * @module
 */

import type { ListenAddress } from "../cli/listen.ts";
import { type RestartingServer, serveRestarting } from "./deno_serve.ts";
import { ConnectionGuard, type GuardLog } from "./guard.ts";
import { clearStaleSocket, removeSocket } from "./socket.ts";
import type { Front, FrontHandler } from "./types.ts";

/** What the guarded front needs. */
export interface GuardedFrontOptions {
  listen: ListenAddress;
  /** Certificate and key: clients speak TLS, ended by Deno.serve behind the guard. */
  tls: { cert: string; key: string } | null;
  headerTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  log: GuardLog;
  onError: (err: unknown) => Response;
}

/** Deno.serve behind the connection guard. */
export class GuardedFront implements Front {
  readonly description: string;
  readonly #options: GuardedFrontOptions;
  readonly #guard: ConnectionGuard;
  #server: RestartingServer | null = null;

  /** @param options Address, TLS, timeouts and log. */
  constructor(options: GuardedFrontOptions) {
    this.#options = options;
    this.#guard = new ConnectionGuard(options);
    this.description =
      `connection guard: request heads within ${options.headerTimeoutMs / 1000}s, ` +
      `idle connections closed after ${options.keepAliveTimeoutMs / 1000}s`;
  }

  get connections(): ConnectionGuard {
    return this.#guard;
  }

  get failed(): Promise<never> {
    return this.#guard.failed;
  }

  async serve(handler: FrontHandler): Promise<Deno.Addr> {
    const { listen, tls, log, onError } = this.#options;
    await clearStaleSocket(listen);
    const guard = this.#guard;
    const server = await serveRestarting({
      listen: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
      handler: guard.wrap(handler),
      tls,
      log,
      onError,
      onRestart: (address) => guard.redirect(address as Deno.NetAddr),
    });
    this.#server = server;
    try {
      return await guard.start(listen, tls !== null, server.address as Deno.NetAddr);
    } catch (err) {
      await server.shutdown();
      throw err;
    }
  }

  stopAccepting(): void {
    this.#guard.stopAccepting();
  }

  async drain(): Promise<void> {
    await this.#server?.shutdown();
    // Responses the HTTP server has written may still be on their way through the guard.
    await this.#guard.finished();
  }

  async close(): Promise<void> {
    await this.#guard.closeAll();
    await removeSocket(this.#options.listen);
  }
}
