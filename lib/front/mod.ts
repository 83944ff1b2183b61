/**
 * The one place that chooses how connections reach the app.
 *
 * @module
 */

import type { ListenAddress } from "../listen.ts";
import { GuardedFront } from "./guarded.ts";
import type { GuardLog } from "./guard.ts";
import { PlainFront } from "./plain.ts";
import type { Front } from "./types.ts";

export type { ConnectionCounts, Front, FrontHandler } from "./types.ts";

/** The settings that decide the front. */
export interface FrontSettings {
  listen: ListenAddress;
  tls: { cert: string; key: string } | null;
  /** 0: no limit on request heads, and no guard. */
  headerTimeoutSeconds: number;
  keepAliveTimeoutSeconds: number;
  maxConnections: number;
  log: GuardLog;
  /** What answers when the handler throws. */
  onError: (err: unknown) => Response;
}

/**
 * Chooses the front: the connection guard unless head timeouts are off.
 *
 * @param settings Address, TLS, timeouts and log.
 * @returns The front, not yet serving.
 */
export function chooseFront(settings: FrontSettings): Front {
  const { listen, tls, log, onError } = settings;
  if (settings.headerTimeoutSeconds === 0) return new PlainFront({ listen, tls, log, onError });
  return new GuardedFront({
    listen,
    tls,
    log,
    onError,
    headerTimeoutMs: settings.headerTimeoutSeconds * 1000,
    keepAliveTimeoutMs: settings.keepAliveTimeoutSeconds * 1000,
    maxConnections: settings.maxConnections,
  });
}
