/**
 * The one place that chooses how connections reach the app: Deno's HTTP
 * server on connections the server accepts itself (it can then hold them to
 * the connection rules), or `Deno.serve` alone on a Deno without
 * per-connection serving.
 *
 * @module
 */

import { ConnectionFront } from "./connections.ts";
import { connectionServer } from "./deno_internal.ts";
import { PlainFront } from "./plain.ts";
import type { Front, FrontSettings } from "./types.ts";

/**
 * Chooses the front.
 *
 * @param settings Address, TLS, connection rules and log.
 * @returns The front, not yet serving.
 */
export function chooseFront(settings: FrontSettings): Front {
  const serveConnection = connectionServer();
  return serveConnection
    ? new ConnectionFront(settings, serveConnection)
    : new PlainFront(settings);
}
