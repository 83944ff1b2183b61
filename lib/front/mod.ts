/**
 * The one place that chooses how connections reach the app.
 *
 * @module
 */

import type { ListenAddress } from "../cli/listen.ts";
import { ConnectionFront } from "./connections.ts";
import { connectionServer } from "./deno_internal.ts";
import { GuardedFront } from "./guarded.ts";
import type { GuardLog } from "./guard.ts";
import { PlainFront } from "./plain.ts";
import type { Front } from "./types.ts";

export type { ConnectionCounts, Front, FrontHandler } from "./types.ts";

/** The settings that decide the front. */
export interface FrontSettings {
  listen: ListenAddress;
  tls: { cert: string; key: string } | null;
  /** 0: no limit on request heads. */
  headerTimeoutSeconds: number;
  keepAliveTimeoutSeconds: number;
  maxConnections: number;
  log: GuardLog;
  /** What answers when the handler throws. */
  onError: (err: unknown) => Response;
}

/**
 * Chooses the front. Deno's HTTP server on connections the server accepts
 * itself, unless head timeouts must hold over TLS: a Deno TLS connection
 * cannot be closed before its handshake, so there the guard passes the
 * encrypted bytes on and closes the plain socket. Without the runtime's
 * per-connection server, the guard or `Deno.serve` alone.
 *
 * @param settings Address, TLS, timeouts and log.
 * @returns The front, not yet serving.
 */
export function chooseFront(settings: FrontSettings): Front {
  const { listen, tls, log, onError, maxConnections } = settings;
  const headerTimeoutMs = settings.headerTimeoutSeconds * 1000;
  const keepAliveTimeoutMs = settings.keepAliveTimeoutSeconds * 1000;
  const serveConnection = connectionServer();
  if (serveConnection && !(tls && headerTimeoutMs > 0)) {
    return new ConnectionFront({
      listen,
      tls,
      headerTimeoutMs,
      keepAliveTimeoutMs,
      maxConnections,
      log,
      onError,
      serveConnection,
    });
  }
  if (headerTimeoutMs === 0) return new PlainFront({ listen, tls, log, onError });
  return new GuardedFront({
    listen,
    tls,
    log,
    onError,
    headerTimeoutMs,
    keepAliveTimeoutMs,
    maxConnections,
  });
}
