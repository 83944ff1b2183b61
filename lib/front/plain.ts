/**
 * The plain front: `Deno.serve` alone on the public address, the fallback
 * for `--header-timeout 0` on a Deno without per-connection serving. It has
 * no timeout for request heads, no idle rule and no connection limit, so it
 * suits a server behind a reverse proxy that has them.
 *
 * @module
 */

import type { ListenAddress } from "../cli/listen.ts";
import { type RestartingServer, type ServeLog, serveRestarting } from "./deno_serve.ts";
import { clearStaleSocket, removeSocket } from "./socket.ts";
import type { Front, FrontHandler } from "./types.ts";

/** What the plain front needs. */
export interface PlainFrontOptions {
  listen: ListenAddress;
  tls: { cert: string; key: string } | null;
  log: ServeLog;
  onError: (err: unknown) => Response;
}

/** Deno.serve on the public address. */
export class PlainFront implements Front {
  readonly description =
    "connection guard off (--header-timeout 0): put a reverse proxy in front; " +
    "--keepalive-timeout and --max-connections need a Deno with per-connection serving";
  readonly connections = null;
  readonly failed: Promise<never> = new Promise<never>(() => {});
  readonly #options: PlainFrontOptions;
  #server: RestartingServer | null = null;

  /** @param options Address, TLS and log. */
  constructor(options: PlainFrontOptions) {
    this.#options = options;
  }

  async serve(handler: FrontHandler): Promise<Deno.Addr> {
    await clearStaleSocket(this.#options.listen);
    this.#server = await serveRestarting({ ...this.#options, handler });
    return this.#server.address;
  }

  /** Deno.serve stops accepting only as part of its shutdown, in {@link drain}. */
  stopAccepting(): void {}

  async drain(): Promise<void> {
    await this.#server?.shutdown();
  }

  async close(): Promise<void> {
    await removeSocket(this.#options.listen);
  }
}
