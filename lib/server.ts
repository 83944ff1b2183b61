/**
 * Runs the app on a listener: start-up checks and lines, authentication and
 * policy set-up, TLS and unix sockets, reload and graceful shutdown.
 *
 * @module
 */

import { createApp } from "./app.ts";
import { type Authenticator, HtpasswdAuth, ProxyHeaderAuth } from "./auth.ts";
import { VERSION } from "./cli.ts";
import { ConfigError, formatAddress, formatListen, type ServeConfig } from "./config.ts";
import { statusResponse } from "./http_error.ts";
import { STATUS_CODE } from "./http_status.ts";
import type { Logger } from "./log.ts";
import { checkPolicyAgainstFlags, parsePolicy, type Policy } from "./policy.ts";
import { ConnectionGuard } from "./guard.ts";
import { Inventory } from "./inventory.ts";
import { Metrics } from "./metrics.ts";
import { FsStorage } from "./storage/fs.ts";
import { withQuota } from "./storage/quota.ts";

/** A server that is listening. */
export interface RunningServer {
  /** The bound address as printed in `start server on …`. */
  address: string;
  /** Re-reads the htpasswd file (SIGHUP). */
  reload(): Promise<void>;
  /** Stops taking requests, waits for running ones up to the grace period, aborts the rest. */
  shutdown(): Promise<void>;
  /** Settles when the server has stopped, after any shutdown cleanup. */
  finished: Promise<void>;
}

async function buildAuth(
  config: ServeConfig,
  log: Logger,
): Promise<{ auth: Authenticator | null; description: string }> {
  if (config.proxyAuthUsername !== null) {
    if (config.noAuth) {
      throw new ConfigError(
        "Cannot combine --no-auth with --proxy-auth-username: drop one of them",
      );
    }
    return {
      auth: new ProxyHeaderAuth(config.proxyAuthUsername),
      description: `authentication: user name from the ${config.proxyAuthUsername} header`,
    };
  }
  if (config.noAuth) {
    return { auth: null, description: "authentication disabled (--no-auth)" };
  }
  const auth = await HtpasswdAuth.load({ file: config.htpasswdFile, log });
  return {
    auth,
    description: `authentication: ${auth.userCount} user(s) from ${config.htpasswdFile}`,
  };
}

async function loadPolicy(config: ServeConfig): Promise<Policy | null> {
  if (config.policyFile === null) return null;
  let text: string;
  try {
    text = await Deno.readTextFile(config.policyFile);
  } catch (err) {
    throw new ConfigError(
      `Cannot read policy file "${config.policyFile}": ${(err as Error).message}`,
    );
  }
  const policy = parsePolicy(text, config.policyFile);
  checkPolicyAgainstFlags(policy, config);
  return policy;
}

async function readTls(config: ServeConfig): Promise<{ cert: string; key: string } | null> {
  if (config.tls === null) return null;
  if (config.listen.transport === "unix") {
    throw new ConfigError("Cannot combine --tls with a unix socket: drop one of them");
  }
  const read = async (file: string, what: string): Promise<string> => {
    try {
      return await Deno.readTextFile(file);
    } catch (err) {
      throw new ConfigError(`Cannot read TLS ${what} "${file}": ${(err as Error).message}`);
    }
  };
  return {
    cert: await read(config.tls.certFile, "certificate"),
    key: await read(config.tls.keyFile, "key"),
  };
}

/** Removes a socket file left by a server that is gone; refuses a live one. */
async function clearStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (!info.isSocket) {
    throw new ConfigError(`Cannot listen on unix:${path}: something that is not a socket is there`);
  }
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
  } catch {
    await Deno.remove(path); // nobody answers: a leftover of a crash
    return;
  }
  throw new ConfigError(`Cannot listen on unix:${path}: another server is listening there`);
}

/**
 * Starts serving. Prints the start-up lines, the last one exactly
 * `start server on <address>`.
 *
 * @param config The validated configuration.
 * @param log Where start-up lines and errors go.
 * @returns The running server.
 * @throws {ConfigError} When the configuration cannot run.
 */
export async function startServer(config: ServeConfig, log: Logger): Promise<RunningServer> {
  const { auth, description } = await buildAuth(config, log);
  const policy = await loadPolicy(config);
  const tls = await readTls(config);
  const inventory = new Inventory();
  const { maxSize } = config;
  const storage = withQuota(
    new FsStorage(config.dataDir, { groupAccessible: config.groupAccessibleRepos }),
    inventory,
    (repo) => [
      ...(maxSize === null ? [] : [{ scope: [], maxBytes: maxSize }]),
      ...(policy?.limitsFor(repo) ?? []),
    ],
  );
  const { removedTempFiles } = await storage.recover();
  const metrics = config.prometheus ? new Metrics(inventory, maxSize) : null;
  log.info(`restic-rest ${VERSION}`);
  log.info(description);
  log.info(`data directory: ${await Deno.realPath(config.dataDir)}`);
  if (removedTempFiles > 0) log.info(`removed ${removedTempFiles} unfinished upload(s)`);
  log.info(
    `stored: ${inventory.bytesUnder([])} bytes` +
      (maxSize === null ? "" : ` of ${maxSize} (--max-size)`),
  );
  if (config.appendOnly) log.info("append-only mode");
  if (metrics) {
    log.info(`metrics at /metrics${config.prometheusNoAuth ? " (no authentication)" : ""}`);
  }
  if (config.groupAccessibleRepos) log.info("group-accessible repositories (0770/0660)");
  if (config.privateRepos) log.info("private repositories");
  if (policy) log.info(`policy: ${config.policyFile}`);
  if (!config.verifyUpload) log.info("upload verification disabled (--no-verify-upload)");
  log.info(
    config.headerTimeoutSeconds > 0
      ? `connection guard: request heads within ${config.headerTimeoutSeconds}s, ` +
        `idle connections closed after ${config.keepAliveTimeoutSeconds}s`
      : "connection guard off (--header-timeout 0): put a reverse proxy in front",
  );

  const app = trackInFlight(createApp({
    storage,
    log,
    auth,
    policy,
    metrics,
    metricsNoAuth: config.prometheusNoAuth,
    idleTimeoutMs: config.idleTimeoutSeconds > 0 ? config.idleTimeoutSeconds * 1000 : undefined,
    verifyUpload: config.verifyUpload,
    appendOnly: config.appendOnly,
    privateRepos: config.privateRepos,
  }));
  const { listen } = config;
  if (listen.transport === "unix") await clearStaleSocket(listen.path);
  // Deno.serve cannot time out slow request heads, so by default it listens
  // on loopback behind the connection guard, which owns the public address.
  const guard = config.headerTimeoutSeconds > 0
    ? new ConnectionGuard({
      headerTimeoutMs: config.headerTimeoutSeconds * 1000,
      keepAliveTimeoutMs: config.keepAliveTimeoutSeconds * 1000,
      maxConnections: config.maxConnections,
      log,
      onClose: (reason) => metrics?.connectionClosed(reason),
    })
    : null;
  if (guard) metrics?.countConnections(() => guard.openConnections);
  const handler = guard ? guard.wrap(app.handle) : app.handle;
  // Serving again must not move to another port when the first was :0.
  let publicPort = listen.transport === "tcp" ? listen.port : 0;
  /** One Deno.serve; called again if one stops on its own. */
  const serve = async (): Promise<{ server: Deno.HttpServer; bound: Deno.Addr }> => {
    const { promise: listening, resolve: onListen } = Promise.withResolvers<Deno.Addr>();
    const options = {
      onListen: (address: Deno.Addr) => onListen(address),
      onError: (err: unknown): Response => {
        log.error(`unhandled: ${err instanceof Error ? err.stack : String(err)}`);
        return statusResponse(STATUS_CODE.InternalServerError);
      },
    };
    const server = guard
      ? Deno.serve({ ...options, ...tls, hostname: "127.0.0.1", port: 0 }, handler)
      : listen.transport === "unix"
      ? Deno.serve({ ...options, path: listen.path }, handler)
      : Deno.serve({ ...options, ...tls, hostname: listen.hostname, port: publicPort }, handler);
    return { server, bound: await listening };
  };
  let server: Deno.HttpServer;
  let bound: Deno.Addr;
  try {
    ({ server, bound } = await serve());
  } catch (err) {
    throw new ConfigError(`Cannot listen on ${formatListen(listen)}: ${(err as Error).message}`);
  }
  if (!guard && "port" in bound) publicPort = bound.port;
  if (guard) {
    try {
      bound = await guard.start(listen, tls !== null, bound as Deno.NetAddr);
    } catch (err) {
      await server.shutdown();
      throw err;
    }
  }
  const address = formatAddress(bound);
  log.info(`start server on ${address}`);

  let stopping: Promise<void> | null = null;
  function shutdown(): Promise<void> {
    stopping ??= (async () => {
      log.info(`shutting down: waiting up to ${config.shutdownTimeoutSeconds}s for requests`);
      const deadline = Date.now() + config.shutdownTimeoutSeconds * 1000;
      guard?.stopAccepting();
      // Deno's shutdown() cuts request bodies still being read, so running
      // handlers (uploads) drain first; shutdown() then waits for responses
      // still being sent.
      await withDeadline(app.drain(), deadline);
      await withDeadline(server.shutdown(), deadline);
      // Responses the HTTP server has written may still be on their way
      // through the guard.
      if (guard) await withDeadline(guard.finished(), deadline);
      await guard?.closeAll();
      storage.abortUploads();
      if (listen.transport === "unix") await Deno.remove(listen.path).catch(() => {});
    })();
    return stopping;
  }
  async function reload(): Promise<void> {
    if (auth instanceof HtpasswdAuth) await auth.reload("SIGHUP");
  }
  // Deno.serve stops for good when accept() fails (out of file descriptors);
  // serve again rather than let one flood of connections end the server.
  // Settle only after a shutdown's cleanup too: Deno's `finished` comes first,
  // and a caller that exits on it would skip removing aborted uploads.
  /** Serves again after a delay, until it works or a shutdown begins. */
  async function serveAgain(): Promise<void> {
    while (!stopping) {
      await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS));
      try {
        const next = await serve();
        server = next.server;
        if (guard) guard.redirect(next.bound as Deno.NetAddr);
        log.error(`the HTTP server is back on ${formatAddress(guard ? bound : next.bound)}`);
        return;
      } catch (err) {
        log.error(`cannot start the HTTP server again yet: ${(err as Error).message}`);
      }
    }
  }
  const served = (async () => {
    while (true) {
      try {
        await server.finished;
        break; // a shutdown
      } catch (err) {
        if (stopping) break;
        log.error(`the HTTP server stopped (${(err as Error).message}); starting it again`);
        await serveAgain();
      }
    }
    await stopping;
  })();
  const finished = guard ? Promise.race([served, guard.failed]) : served;
  return { address, reload, shutdown, finished };
}

/** How long to wait before serving again after Deno.serve stopped on its own. */
const RESTART_DELAY_MS = 1000;

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
  handle: (request: Request, info: Deno.ServeHandlerInfo) => Promise<Response>;
  /** From now on answer 503; settles when no handler is running. */
  drain(): Promise<void>;
}

function trackInFlight(
  app: (request: Request, info: Deno.ServeHandlerInfo) => Promise<Response>,
): TrackedHandler {
  let running = 0;
  let draining = false;
  const idle = Promise.withResolvers<void>();
  return {
    async handle(request, info) {
      if (draining) {
        await request.body?.cancel().catch(() => {});
        return statusResponse(STATUS_CODE.ServiceUnavailable, { connection: "close" });
      }
      running++;
      try {
        return await app(request, info);
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
