/**
 * Counting the requests a handler is running, so a shutdown can wait for
 * them (uploads above all) before the HTTP server stops reading bodies.
 *
 * @module
 */

import { statusResponse } from "../http/errors.ts";
import { STATUS_CODE } from "../http/status_codes.ts";

/** A handler as `Deno.serve` calls it. */
type Handle<I> = (request: Request, info: I) => Promise<Response>;

/** A handler that counts the requests it is running and can refuse new ones. */
export interface TrackedHandler<I> {
  handle: Handle<I>;
  /** From now on answer 503; settles when no handler is running. */
  drain(): Promise<void>;
}

/**
 * Wraps a handler to count the requests it runs.
 *
 * @param app The handler.
 * @returns The counting handler and its drain.
 */
export function trackInFlight<I>(app: Handle<I>): TrackedHandler<I> {
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
