/**
 * The request pipeline as a plain `(Request) => Promise<Response>`:
 * authenticate, parse the target, authorise, route, and turn every error
 * into a response in one place. No socket is needed to test it.
 *
 * @module
 */

import { type AccessRules, decideAccess } from "./access.ts";
import type { Authenticator } from "./auth.ts";
import { createHandlers } from "./handlers.ts";
import { errorToResponse, HttpError } from "./http_error.ts";
import { STATUS_CODE } from "./http_status.ts";
import type { Logger } from "./log.ts";
import { parseTarget } from "./repo_path.ts";
import { createRouter } from "./router.ts";
import type { Storage } from "./storage/types.ts";

/** The realm sent with every 401, so browsers and wget ask for credentials. */
export const AUTH_REALM = "restic-rest";

/** What the pipeline is built from. */
export interface AppOptions extends AccessRules {
  storage: Storage;
  log: Logger;
  /** Check each upload's SHA-256 against its name. */
  verifyUpload: boolean;
  /** Who is asking; `null` serves everybody (`--no-auth`). */
  auth?: Authenticator | null;
}

/** Facts about the connection, as `Deno.serve` passes them. */
export interface ConnectionInfo {
  remoteAddr: Deno.Addr;
}

/** A request handler as `Deno.serve` takes it. */
export type AppHandler = (request: Request, info?: ConnectionInfo) => Promise<Response>;

function clientAddress(info?: ConnectionInfo): string {
  const addr = info?.remoteAddr;
  if (addr && "hostname" in addr) return addr.hostname;
  return "local";
}

function unauthorized(reason: string): HttpError {
  return new HttpError(STATUS_CODE.Unauthorized, reason, {
    "www-authenticate": `Basic realm="${AUTH_REALM}", charset="UTF-8"`,
  });
}

/**
 * Builds the request handler.
 *
 * @param options Storage, log, authentication and access rules.
 * @returns The handler.
 *
 * @example
 * ```ts
 * const app = createApp({ storage, log, verifyUpload: true, appendOnly: false,
 *   privateRepos: false, policy: null });
 * const response = await app(new Request("http://x/config"));
 * ```
 */
export function createApp(options: AppOptions): AppHandler {
  const { log, auth = null } = options;
  const route = createRouter(createHandlers(options));

  async function dispatch(request: Request, url: URL, info?: ConnectionInfo): Promise<Response> {
    let user: string | null = null;
    if (auth) {
      const result = await auth.authenticate(request);
      if (!result.ok) {
        if (result.user !== undefined) {
          log.warn(
            `failed login for user "${result.user}" from ${clientAddress(info)}: ${result.reason}`,
          );
        }
        throw unauthorized(result.reason);
      }
      user = result.user;
    }
    const target = parseTarget(url.pathname);
    if (target === null) {
      throw new HttpError(STATUS_CODE.NotFound, "the path names no repository, type or object");
    }
    const decision = decideAccess(options, user, target.repo);
    if (!decision.ok) {
      throw decision.status === 401
        ? unauthorized(decision.reason)
        : new HttpError(STATUS_CODE.Forbidden, decision.reason);
    }
    return await route({ request, target, access: decision.mode, user });
  }

  return async function handle(request: Request, info?: ConnectionInfo): Promise<Response> {
    const url = new URL(request.url);
    let response: Response;
    let reason = "";
    try {
      response = await dispatch(request, url, info);
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
