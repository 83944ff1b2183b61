/**
 * How connections reach the app: the one contract every front keeps, with
 * what it is built from (address, TLS material, connection rules, log). The
 * server starts one front, chosen in one place (`mod.ts`), and never asks
 * which it has.
 *
 * @module
 */

import type { ListenAddress } from "../cli/listen.ts";

/** A request handler as `Deno.serve` takes it. */
export type FrontHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

/** A certificate chain and its private key, PEM, read from the configured files. */
export interface TlsMaterial {
  cert: string;
  key: string;
}

/** Where a front reports. */
export interface FrontLog {
  /** A connection closed by a rule, and such details. */
  debug(message: string): void;
  /** Something the administrator should see (accept failing, a restart). */
  error(message: string): void;
}

/** Why the front closed a connection. */
export type CloseReason = "header_timeout" | "idle_timeout";

/** The connection rules, in ms (0: none). */
export interface ConnectionRules {
  /** The first request must start this long after the connection opened. */
  headerTimeoutMs: number;
  /** A connection with no request running this long is closed. */
  keepAliveTimeoutMs: number;
  /** Connections open at most; more wait in the kernel's queue. */
  maxConnections: number;
}

/** What every front is built from. */
export interface FrontSettings extends ConnectionRules {
  listen: ListenAddress;
  /** Ends TLS on each connection, when set. */
  tls: TlsMaterial | null;
  log: FrontLog;
  /** What answers when the handler throws. */
  onError: (err: unknown) => Response;
}

/** Connections a front has open and has closed, for `/metrics`. */
export interface ConnectionCounts {
  /** Client connections open now. */
  open(): number;
  /** Connections the front closed, by reason. */
  closed(): Record<CloseReason, number>;
}

/** A way for connections to reach a handler. */
export interface Front {
  /** One line for the start-up log: the rules the connections are held to. */
  readonly description: string;
  /** Open and closed connections, when this front keeps count; `null` otherwise. */
  readonly connections: ConnectionCounts | null;
  /** Rejects when the front fails for good: nobody listens any more. */
  readonly failed: Promise<never>;
  /**
   * Listens and passes every request to `handler`.
   *
   * @returns The address clients connect to.
   * @throws {ConfigError} When the address cannot be listened on.
   */
  serve(handler: FrontHandler): Promise<Deno.Addr>;
  /** Stops taking new connections; open ones carry on. */
  stopAccepting(): void;
  /** Settles when the responses already begun have been sent. */
  drain(): Promise<void>;
  /** Closes whatever is still open and releases the address. */
  close(): Promise<void>;
}
