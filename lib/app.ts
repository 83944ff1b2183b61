/**
 * The request pipeline as a plain `(Request) => Promise<Response>`:
 * authenticate, parse the target, authorise, route, and turn every error
 * into a response in one place. No socket is needed to test it.
 *
 * @module
 */

import type { AccessMode } from "./access.ts";
import { createHandlers } from "./handlers.ts";
import { errorToResponse, statusResponse } from "./http_error.ts";
import { STATUS_CODE } from "./http_status.ts";
import type { Logger } from "./log.ts";
import { parseTarget } from "./repo_path.ts";
import { createRouter } from "./router.ts";
import type { Storage } from "./storage/types.ts";

/** What the pipeline is built from. */
export interface AppOptions {
  storage: Storage;
  log: Logger;
  /** Check each upload's SHA-256 against its name. */
  verifyUpload: boolean;
  /** No deletes (but of locks) and no overwrites, for everybody. */
  appendOnly: boolean;
}

/** A request handler as `Deno.serve` takes it. */
export type AppHandler = (request: Request) => Promise<Response>;

/**
 * Builds the request handler.
 *
 * @param options Storage, log and protocol options.
 * @returns The handler.
 *
 * @example
 * ```ts
 * const app = createApp({ storage, log, verifyUpload: true, appendOnly: false });
 * const response = await app(new Request("http://x/config"));
 * ```
 */
export function createApp(options: AppOptions): AppHandler {
  const { log } = options;
  const route = createRouter(createHandlers(options));
  const access: AccessMode = options.appendOnly ? "append-only" : "full";

  return async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    let response: Response;
    let reason = "";
    try {
      const target = parseTarget(url.pathname);
      if (target === null) {
        reason = "the path names no repository, type or object";
        response = statusResponse(STATUS_CODE.NotFound);
      } else {
        response = await route({ request, target, access, user: null });
      }
    } catch (err) {
      ({ response, reason } = errorToResponse(err));
      if (response.status >= 500) log.error(`${request.method} ${url.pathname}: ${reason}`);
    }
    if (log.debugEnabled) {
      log.debug(
        `${request.method} ${url.pathname} ${response.status}${reason ? ` (${reason})` : ""}`,
      );
    }
    return response;
  };
}
