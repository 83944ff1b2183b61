/**
 * Runs the app on a listener: start-up checks and lines, `Deno.serve`,
 * signals and graceful shutdown.
 *
 * @module
 */

import { createApp } from "./app.ts";
import { VERSION } from "./cli.ts";
import { ConfigError, formatAddress, type ServeConfig } from "./config.ts";
import { statusResponse } from "./http_error.ts";
import { STATUS_CODE } from "./http_status.ts";
import type { Logger } from "./log.ts";
import { FsStorage } from "./storage/fs.ts";

/** A server that is listening. */
export interface RunningServer {
  /** The bound address as printed in `start server on …`. */
  address: string;
  /** Stops taking requests, waits for running ones up to the grace period, aborts the rest. */
  shutdown(): Promise<void>;
  /** Settles when the server has stopped. */
  finished: Promise<void>;
}

/**
 * Starts serving. Prints the start-up lines, the last one exactly
 * `start server on <address>`.
 *
 * @param config The validated configuration.
 * @param log Where start-up lines and errors go.
 * @returns The running server.
 * @throws {ConfigError} When the configuration cannot run (such as no authentication).
 */
export async function startServer(config: ServeConfig, log: Logger): Promise<RunningServer> {
  if (!config.noAuth) {
    throw new ConfigError(
      "Cannot start without authentication yet: pass --no-auth to serve without it",
    );
  }
  const storage = new FsStorage(config.dataDir);
  const { removedTempFiles } = await storage.recover();
  log.info(`restic-rest ${VERSION}`);
  log.info(`data directory: ${await Deno.realPath(config.dataDir)}`);
  if (removedTempFiles > 0) log.info(`removed ${removedTempFiles} unfinished upload(s)`);
  log.info("authentication disabled (--no-auth)");
  if (config.appendOnly) log.info("append-only mode");
  if (!config.verifyUpload) log.info("upload verification disabled (--no-verify-upload)");

  const app = trackInFlight(createApp({
    storage,
    log,
    verifyUpload: config.verifyUpload,
    appendOnly: config.appendOnly,
  }));
  const { listen } = config;
  const { promise: listening, resolve: onListen } = Promise.withResolvers<Deno.Addr>();
  const serveOptions = {
    onListen: (address: Deno.Addr) => onListen(address),
    onError: (err: unknown): Response => {
      log.error(`unhandled: ${err instanceof Error ? err.stack : String(err)}`);
      return statusResponse(STATUS_CODE.InternalServerError);
    },
  };
  const server = listen.transport === "unix"
    ? Deno.serve({ ...serveOptions, path: listen.path }, app.handle)
    : Deno.serve({ ...serveOptions, hostname: listen.hostname, port: listen.port }, app.handle);
  const address = formatAddress(await listening);
  log.info(`start server on ${address}`);

  let stopping: Promise<void> | null = null;
  function shutdown(): Promise<void> {
    stopping ??= (async () => {
      log.info(`shutting down: waiting up to ${config.shutdownTimeoutSeconds}s for requests`);
      const deadline = Date.now() + config.shutdownTimeoutSeconds * 1000;
      // Deno's shutdown() cuts request bodies still being read, so running
      // handlers (uploads) drain first; shutdown() then waits for responses
      // still being sent.
      await withDeadline(app.drain(), deadline);
      await withDeadline(server.shutdown(), deadline);
      storage.abortUploads();
    })();
    return stopping;
  }
  return { address, shutdown, finished: server.finished };
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

/** A handler that counts the requests it is running and can refuse new ones. */
interface TrackedHandler {
  handle: (request: Request) => Promise<Response>;
  /** From now on answer 503; settles when no handler is running. */
  drain(): Promise<void>;
}

function trackInFlight(app: (request: Request) => Promise<Response>): TrackedHandler {
  let running = 0;
  let draining = false;
  const idle = Promise.withResolvers<void>();
  return {
    async handle(request) {
      if (draining) {
        await request.body?.cancel().catch(() => {});
        return statusResponse(STATUS_CODE.ServiceUnavailable, { connection: "close" });
      }
      running++;
      try {
        return await app(request);
      } finally {
        if (--running === 0 && draining) idle.resolve();
      }
    },
    drain() {
      draining = true;
      if (running === 0) idle.resolve();
      return idle.promise;
    },
  };
}
