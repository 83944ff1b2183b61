/**
 * How connections reach the app: the contract every front keeps, whether it
 * is `Deno.serve` alone or a guard in front of it. The server starts one
 * front, chosen in one place (`mod.ts`), and never asks which it has.
 *
 * @module
 */

/** A request handler as `Deno.serve` takes it. */
export type FrontHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

/** Connections a front has open and has closed, for `/metrics`. */
export interface ConnectionCounts {
  /** Client connections open now. */
  open(): number;
  /** Connections the front closed, by reason (`header_timeout`, `idle_timeout`). */
  closed(): Record<string, number>;
}

/** A way for connections to reach a handler. */
export interface Front {
  /** One line for the start-up log: what guards the connections. */
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
