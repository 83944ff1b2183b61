/**
 * Runs the app on a front: prints the start-up lines, listens, and shuts
 * down in order (stop accepting, let running requests finish within the
 * grace period, close, remove what aborted uploads left). What the app is
 * made of is `wiring.ts`'s; how connections arrive is the front's.
 *
 * @module
 */

import type { ServeConfig } from "../cli/config.ts";
import { ConfigError } from "../base/errors.ts";
import { chooseFront } from "../front/mod.ts";
import type { Front } from "../front/types.ts";
import { statusResponse } from "../http/errors.ts";
import { STATUS_CODE } from "../http/status_codes.ts";
import { formatAddress } from "../cli/listen.ts";
import { createLogger, type Logger, openAccessLog } from "../base/log.ts";
import { wire, type Wiring } from "./wiring.ts";

/** A server that is listening. */
export interface RunningServer {
  /** The bound address as printed in `start server on …`. */
  address: string;
  /** Re-reads the htpasswd file (SIGHUP). */
  reload(): Promise<void>;
  /** Stops taking requests, waits for running ones up to the grace period, aborts the rest. */
  shutdown(): Promise<void>;
  /** Settles when the server has stopped, after any shutdown cleanup; rejects if the front fails. */
  finished: Promise<void>;
}

/** Settles when `work` does or when `deadline` (epoch ms) passes, whichever is first. */
async function withDeadline(work: Promise<void>, deadline: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
  });
  await Promise.race([work, expired]);
  clearTimeout(timer);
}

function frontFor(config: ServeConfig, wiring: Wiring, log: Logger): Front {
  return chooseFront({
    listen: config.listen,
    tls: wiring.tls,
    headerTimeoutMs: config.headerTimeoutSeconds * 1000,
    keepAliveTimeoutMs: config.keepAliveTimeoutSeconds * 1000,
    maxConnections: config.maxConnections,
    log,
    onError: (err: unknown): Response => {
      log.error(`unhandled: ${err instanceof Error ? err.stack : String(err)}`);
      return statusResponse(STATUS_CODE.InternalServerError);
    },
  });
}

/**
 * Starts serving. Prints the start-up lines, the last one exactly
 * `start server on <address>` (`https://HOST:PORT` over TLS).
 *
 * @param config The validated configuration.
 * @param log Where start-up lines and errors go.
 * @returns The running server.
 * @throws {ConfigError} When the configuration cannot run.
 */
export async function startServer(config: ServeConfig, log: Logger): Promise<RunningServer> {
  const wiring = await wire(config, log);
  const front = frontFor(config, wiring, log);
  for (const line of [...wiring.startupLines, front.description]) log.info(line);
  if (front.connections) wiring.metrics?.countConnections(front.connections);
  const bound = formatAddress(await front.serve(wiring.app.handle));
  // Over TLS the scheme comes with it: a user copies the line into restic's URL.
  const address = wiring.tls && !bound.startsWith("unix:") ? `https://${bound}` : bound;
  log.info(`start server on ${address}`);
  // Served at once; what was stored before is counted meanwhile (limits apply to what is known).
  wiring.buildInventory().then(
    (line) => log.info(line),
    (err) => log.error(`cannot count what is stored: ${(err as Error).message}`),
  );

  let stopping: Promise<void> | null = null;
  function shutdown(): Promise<void> {
    stopping ??= (async () => {
      wiring.announceShutdown();
      if (config.shutdownDelaySeconds > 0) {
        // Serving on while /healthz says 503, so a load balancer moves traffic away first.
        log.info(
          `shutting down: /healthz answers 503; serving ${config.shutdownDelaySeconds}s more`,
        );
        await new Promise((resolve) => setTimeout(resolve, config.shutdownDelaySeconds * 1000));
      }
      log.info(`shutting down: waiting up to ${config.shutdownTimeoutSeconds}s for requests`);
      const deadline = Date.now() + config.shutdownTimeoutSeconds * 1000;
      front.stopAccepting();
      // Deno's shutdown() cuts request bodies still being read, so running
      // handlers (uploads) finish first; the front then waits for responses
      // still being sent.
      await withDeadline(wiring.app.drain(), deadline);
      await withDeadline(front.drain(), deadline);
      await front.close();
      await wiring.storage.abortUploads();
      await withDeadline(wiring.close(), Date.now() + 5_000);
    })();
    return stopping;
  }
  const { promise: stopped, resolve } = Promise.withResolvers<void>();
  const finished = Promise.race([stopped, front.failed]);
  return {
    address,
    reload: wiring.reload,
    shutdown: () => shutdown().then(resolve),
    finished,
  };
}

/**
 * Serves a configuration until SIGINT or SIGTERM: the logs it asks for,
 * SIGHUP to re-read the users, a graceful shutdown.
 *
 * @param config The validated configuration.
 * @returns The exit code (0 after a graceful shutdown).
 * @throws {ConfigError} When the configuration cannot run (a file, an address).
 */
export async function serve(config: ServeConfig): Promise<number> {
  const { debug, accessLog } = config;
  const log = createLogger({
    debug,
    writeAccess: accessLog === null ? undefined : openAccessLogOrExplain(accessLog),
  });
  const server = await startServer(config, log);
  const stop = (): void => {
    server.shutdown().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") {
    Deno.addSignalListener("SIGTERM", stop);
    Deno.addSignalListener("SIGHUP", () => void server.reload());
  }
  await server.finished;
  return 0;
}

/** The access log's sink, or one line that says why it cannot be opened. */
function openAccessLogOrExplain(file: string): (line: string) => void {
  try {
    return openAccessLog(file);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "its folder does not exist"
      : err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (err as Error).message;
    throw new ConfigError(
      `Cannot open the access log "${file}": ${why}; create its folder, or give --log - for stdout`,
    );
  }
}
