/**
 * `Deno.serve` that survives running out of file descriptors: it stops for
 * good when accept() fails (EMFILE), so it is started again a second later
 * on the same address (the first port, also when that was `:0`).
 *
 * @module
 */

import { ConfigError } from "../base/errors.ts";
import { formatAddress, formatListen, type ListenAddress } from "../cli/listen.ts";
import type { FrontHandler, FrontLog, TlsMaterial } from "./types.ts";

/** How long to wait before serving again after Deno.serve stopped on its own. */
const RESTART_DELAY_MS = 1000;

/** A Deno.serve that restarts itself. */
export interface RestartingServer {
  /** The address of the first start. */
  readonly address: Deno.Addr;
  /** Stops for good: waits for responses under way, as `Deno.serve`'s `shutdown()`. */
  shutdown(): Promise<void>;
}

/** What to serve and where. */
export interface ServeSpec {
  listen: ListenAddress;
  handler: FrontHandler;
  /** Certificate and key, to end TLS here. */
  tls: TlsMaterial | null;
  log: FrontLog;
  /** Told the new address when the server was started again. */
  onRestart?: (address: Deno.Addr) => void;
  /** What answers when the handler throws. */
  onError: (err: unknown) => Response;
}

async function startOnce(spec: ServeSpec, listen: ListenAddress) {
  const { promise: listening, resolve } = Promise.withResolvers<Deno.Addr>();
  const options = { onListen: resolve, onError: spec.onError };
  const server = listen.transport === "unix"
    ? Deno.serve({ ...options, path: listen.path }, spec.handler)
    : Deno.serve(
      { ...options, ...spec.tls, hostname: listen.hostname, port: listen.port },
      spec.handler,
    );
  return { server, address: await listening };
}

/**
 * Starts `Deno.serve` and keeps it serving until `shutdown()`.
 *
 * @param spec Address, handler, TLS and log.
 * @returns The running server.
 * @throws {ConfigError} When the address cannot be listened on.
 */
export async function serveRestarting(spec: ServeSpec): Promise<RestartingServer> {
  let current: Deno.HttpServer;
  let address: Deno.Addr;
  try {
    ({ server: current, address } = await startOnce(spec, spec.listen));
  } catch (err) {
    throw new ConfigError(
      `Cannot listen on ${formatListen(spec.listen)}: ${(err as Error).message}`,
    );
  }
  // Serving again must not move to another port when the first was :0.
  const again: ListenAddress = spec.listen.transport === "tcp" && "port" in address
    ? { ...spec.listen, port: address.port }
    : spec.listen;
  let stopping = false;

  async function restart(): Promise<void> {
    while (!stopping) {
      await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS));
      if (stopping) return;
      try {
        const next = await startOnce(spec, again);
        current = next.server;
        spec.onRestart?.(next.address);
        spec.log.error(`the HTTP server is back on ${formatAddress(next.address)}`);
        return;
      } catch (err) {
        spec.log.error(`cannot start the HTTP server again yet: ${(err as Error).message}`);
      }
    }
  }

  const watched = (async () => {
    while (!stopping) {
      try {
        await current.finished;
        return; // a shutdown
      } catch (err) {
        if (stopping) return;
        spec.log.error(`the HTTP server stopped (${(err as Error).message}); starting it again`);
        await restart();
      }
    }
  })();

  return {
    address,
    async shutdown() {
      stopping = true;
      await current.shutdown().catch(() => {});
      await watched;
    },
  };
}
