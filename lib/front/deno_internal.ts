/**
 * The one runtime workaround of the connection front: serving HTTP on a
 * connection we accepted ourselves. `Deno.serve` owns its listener and has no
 * timeout for request heads nor an idle rule; Deno's own HTTP server can also
 * run on a single accepted connection (`serveHttpOnConnection`, which Deno
 * keeps internal in 2.9). Everything that depends on it is here, so a Deno
 * without it, or a public API for it, changes this file alone.
 *
 * @module
 */

/** A Deno HTTP server bound to one connection. */
export interface ConnectionServer {
  /** Settles when the connection is closed. */
  readonly finished: Promise<void>;
  /** Stops reading requests, waits for the responses under way, then closes. */
  shutdown(): Promise<void>;
}

/** Serves HTTP on one accepted connection until it closes or `signal` aborts (which closes it). */
export type ServeConnection = (
  conn: Deno.Conn,
  signal: AbortSignal,
  handler: (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>,
  onError: (err: unknown) => Response,
) => ConnectionServer;

type Internal = {
  serveHttpOnConnection?: (
    conn: Deno.Conn,
    signal: AbortSignal,
    handler: (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>,
    onError: (err: unknown) => Response,
    onListen: (addr: Deno.Addr) => void,
  ) => ConnectionServer;
};

/**
 * The runtime's per-connection HTTP server, or `null` when this Deno has
 * none (the server then falls back to a front built on `Deno.serve`).
 *
 * @returns A function serving one connection, or `null`.
 */
export function connectionServer(): ServeConnection | null {
  const key = (Deno as unknown as { internal?: symbol }).internal;
  const internal = key === undefined
    ? undefined
    : (Deno as unknown as Record<symbol, Internal | undefined>)[key];
  const serve = internal?.serveHttpOnConnection;
  if (typeof serve !== "function") return null;
  return (conn, signal, handler, onError) => serve(conn, signal, handler, onError, () => {});
}
