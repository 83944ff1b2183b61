/**
 * The plain front: `Deno.serve` alone on the public address, the fallback
 * on a Deno without per-connection serving. It has no timeout for request
 * heads, no idle rule and no connection limit, so it suits a server behind a
 * reverse proxy that has them.
 *
 * @module
 */

import { type RestartingServer, serveRestarting } from "./deno_serve.ts";
import { clearStaleSocket, removeSocket } from "./socket.ts";
import type { Front, FrontHandler, FrontSettings } from "./types.ts";

/** Deno.serve on the public address. */
export class PlainFront implements Front {
  readonly description = "connection rules off: this Deno cannot serve connections one by one; " +
    "--header-timeout, --keepalive-timeout and --max-connections need a reverse proxy in front";
  readonly connections = null;
  readonly failed: Promise<never> = new Promise<never>(() => {});
  readonly #options: FrontSettings;
  #server: RestartingServer | null = null;

  /** @param options Address, TLS and log (the connection rules cannot be kept). */
  constructor(options: FrontSettings) {
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
