/**
 * The request pipeline as a plain `(Request) => Promise<Response>`:
 * health and metrics first, then authenticate, parse the target, authorise,
 * route, and turn every error into a response in one place; one access log
 * line per request. No socket is needed to test it.
 *
 * @module
 */

import { type AccessRules, decideAccess } from "../access/access.ts";
import type { Authenticator } from "../auth/types.ts";
import { createHandlers, type RequestContext } from "./handlers.ts";
import { clientAddress, type TrustedProxies } from "../auth/client_address.ts";
import { errorToResponse, HttpError } from "./errors.ts";
import { STATUS_CODE } from "./status_codes.ts";
import type { Logger } from "../base/log.ts";
import { type Metrics, METRICS_MEDIA_TYPE } from "../status/metrics.ts";
import { explainUnparsed, parseTarget, type RepoPath } from "../base/repo_path.ts";
import { RefusalLog } from "./refusals.ts";
import { createRouter } from "./router.ts";
import { type StatusFormat, statusFormat, type StatusPage } from "../status/page.ts";
import type { Viewer } from "../status/report.ts";
import type { Storage } from "../storage/types.ts";

/** The realm sent with every 401, so browsers and wget ask for credentials. */
export const AUTH_REALM = "restic-rest";

/** The only user who may read `/metrics` when repositories are private (as rest-server). */
export const METRICS_USER = "metrics";

/** What the pipeline is built from. */
export interface AppOptions extends AccessRules {
  storage: Storage;
  log: Logger;
  /** Check each upload's SHA-256 against its name. */
  verifyUpload: boolean;
  /** Let `DELETE {repo}/` remove a repository (`--allow-repo-delete`). */
  allowRepoDelete?: boolean;
  /** The clock, in epoch ms; `Date.now` unless a test moves it. */
  now?: () => number;
  /** Who is asking; `null` serves everybody (`--no-auth`). */
  auth?: Authenticator | null;
  /** Serve `/metrics` (`--prometheus`). */
  metrics?: Metrics | null;
  /** Serve `/metrics` without authentication (`--prometheus-no-auth`). */
  metricsNoAuth?: boolean;
  /** An upload that sends nothing for this long (ms) fails with 408. */
  idleTimeoutMs?: number;
  /** Whether what was stored before the start has been counted (for `/healthz`). */
  inventoryComplete?: () => boolean;
  /** Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`). */
  trustedProxies?: TrustedProxies | null;
  /** The page a browser gets at `/` and `/REPO/`; `null` with `--no-status-page`. */
  status?: StatusPage | null;
}

/** Facts about the connection, as `Deno.serve` passes them. */
export interface ConnectionInfo {
  remoteAddr: Deno.Addr;
  /** Settles when the response was sent; rejects when the client went away first. */
  completed?: Promise<void>;
}

/**
 * A signal aborted when the client goes away before its response is sent,
 * made only when a handler asks (Deno's `request.signal` also aborts after
 * every successful response, and costs its own bookkeeping).
 */
function clientGone(info?: ConnectionInfo): () => AbortSignal {
  let signal: AbortSignal | null = null;
  return () => {
    if (signal === null) {
      const controller = new AbortController();
      info?.completed?.catch(() => controller.abort(new Error("the client went away")));
      signal = controller.signal;
    }
    return signal;
  };
}

/** A request handler as `Deno.serve` takes it. */
export type AppHandler = (request: Request, info?: ConnectionInfo) => Promise<Response>;

function socketAddress(info?: ConnectionInfo): string {
  const addr = info?.remoteAddr;
  if (addr && "hostname" in addr) return addr.hostname;
  return "local";
}

function unauthorized(reason: string): HttpError {
  return new HttpError(STATUS_CODE.Unauthorized, reason, {
    "www-authenticate": `Basic realm="${AUTH_REALM}", charset="UTF-8"`,
  });
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/** Who made a request, as far as it is known; filled in while handling it. */
interface Caller {
  user: string | null;
  /** The client's address: the socket's, or what a trusted proxy forwarded. */
  address: string;
  /** The connection comes from a `--trusted-proxy` address or a unix socket. */
  fromTrustedProxy: boolean;
}

/** What the pipeline's steps share. */
interface Pipeline {
  options: AppOptions;
  route: (ctx: RequestContext) => Promise<Response>;
}

async function authenticate(
  { options }: Pipeline,
  request: Request,
  caller: Caller,
): Promise<void> {
  const { auth, log } = options;
  if (!auth) return;
  const result = await auth.authenticate(request, {
    client: caller.address,
    fromTrustedProxy: caller.fromTrustedProxy,
  });
  caller.user = result.user;
  switch (result.kind) {
    case "ok":
      return;
    case "throttled":
    case "busy":
      throw new HttpError(
        result.kind === "busy" ? STATUS_CODE.ServiceUnavailable : STATUS_CODE.TooManyRequests,
        result.reason,
        { "retry-after": String(result.retryAfterSeconds) },
      );
    case "refused":
      if (!result.checked) throw unauthorized(result.reason);
      log.warn(`failed login for user "${result.user}" from ${caller.address}: ${result.reason}`);
      // Whether the user exists is not the client's to know.
      throw unauthorized("wrong user name or password");
  }
}

function onlyGet(request: Request, path: string): void {
  if (request.method !== "GET" && request.method !== "HEAD") {
    throw new HttpError(STATUS_CODE.MethodNotAllowed, `${path} takes GET`, {
      allow: "GET, HEAD",
    });
  }
}

async function health({ options }: Pipeline, request: Request): Promise<Response> {
  onlyGet(request, "/healthz");
  const inventory = (options.inventoryComplete?.() ?? true) ? "complete" : "counting";
  const health = await options.storage.health();
  return health.ok
    ? json(STATUS_CODE.OK, { status: "ok", inventory })
    : json(STATUS_CODE.ServiceUnavailable, {
      status: "unavailable",
      reason: health.detail,
      inventory,
    });
}

async function serveMetrics(
  pipeline: Pipeline,
  request: Request,
  caller: Caller,
): Promise<Response> {
  const { options } = pipeline;
  if (!options.metricsNoAuth) {
    await authenticate(pipeline, request, caller);
    if (options.privateRepos && caller.user !== null && caller.user !== METRICS_USER) {
      throw unauthorized(`only "${METRICS_USER}" may read /metrics with --private-repos`);
    }
  }
  onlyGet(request, "/metrics");
  const viewer = options.metricsNoAuth || caller.user === METRICS_USER
    ? { ...viewerFor(options, null), user: null }
    : { ...viewerFor(options, caller.user), user: caller.user };
  return new Response(options.metrics!.render(viewer), {
    headers: { "content-type": METRICS_MEDIA_TYPE },
  });
}

/**
 * What a caller may see of the server (status page and `/metrics` alike):
 * everything without private repositories or a policy, or for a user the
 * policy lets reach `/`; otherwise only the repositories they may read.
 */
function viewerFor(options: AppOptions, user: string | null): Viewer {
  const restricted = options.auth != null && user !== null &&
    (options.privateRepos || options.policy !== null);
  if (!restricted) return { mayRead: () => true, seesEverything: true };
  const everything = !options.privateRepos && options.policy?.modeFor(user, []) != null;
  return {
    mayRead: (repo) => everything || decideAccess(options, user, repo).ok,
    seesEverything: everything,
  };
}

function refusal(status: 401 | 403, reason: string): HttpError {
  return status === 401 ? unauthorized(reason) : new HttpError(STATUS_CODE.Forbidden, reason);
}

/**
 * The status page for `/` (any authenticated caller, who sees only what they
 * may read) or for a repository (which the caller must be able to reach).
 */
async function serveStatus(
  { options }: Pipeline,
  request: Request,
  format: StatusFormat,
  scope: RepoPath,
  user: string | null,
): Promise<Response> {
  if (scope.length > 0) {
    const decision = decideAccess(options, user, scope);
    if (!decision.ok) throw refusal(decision.status, decision.reason);
  }
  const response = await options.status!.respond(
    format,
    viewerFor(options, user),
    scope,
    request.method === "HEAD",
  );
  if (response === null) throw new HttpError(STATUS_CODE.NotFound, "no repository here");
  return response;
}

async function dispatch(
  pipeline: Pipeline,
  request: Request,
  url: URL,
  caller: Caller,
  info?: ConnectionInfo,
): Promise<Response> {
  const { options } = pipeline;
  if (url.pathname === "/healthz") return await health(pipeline, request);
  if (url.pathname === "/metrics" && options.metrics) {
    return await serveMetrics(pipeline, request, caller);
  }
  await authenticate(pipeline, request, caller);
  const target = parseTarget(url.pathname);
  if (target === null) {
    throw new HttpError(STATUS_CODE.NotFound, explainUnparsed(url.pathname));
  }
  if (options.status && target.kind === "repo") {
    const format = statusFormat(request);
    if (format) return await serveStatus(pipeline, request, format, target.repo, caller.user);
  }
  const decision = decideAccess(options, caller.user, target.repo);
  if (!decision.ok) throw refusal(decision.status, decision.reason);
  const signal = clientGone(info);
  return await pipeline.route({
    request,
    target,
    access: decision.mode,
    accessSource: decision.source,
    user: caller.user,
    get signal() {
      return signal();
    },
  });
}

/** Writes the debug and access log lines of a finished request. */
function logRequest(
  log: Logger,
  request: Request,
  url: URL,
  outcome: { response: Response; reason: string; user: string | null; address: string },
): void {
  const { response, reason } = outcome;
  if (log.debugEnabled) {
    log.debug(
      `${request.method} ${url.pathname} ${response.status}${reason ? ` (${reason})` : ""}`,
    );
  }
  if (!log.accessEnabled) return;
  const length = response.headers.get("content-length");
  log.access({
    remote: outcome.address,
    user: outcome.user,
    time: new Date(),
    method: request.method,
    target: url.pathname + url.search,
    status: response.status,
    bytes: request.method === "HEAD" || length === null ? null : Number(length),
    referer: request.headers.get("referer"),
    userAgent: request.headers.get("user-agent"),
  });
}

/**
 * Builds the request handler.
 *
 * @param options Storage, log, authentication, access rules and metrics.
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
  const pipeline: Pipeline = { options, route: createRouter(createHandlers(options)) };
  const { log } = options;
  const refusals = new RefusalLog(log);
  return async function handle(request: Request, info?: ConnectionInfo): Promise<Response> {
    const url = new URL(request.url);
    const socket = socketAddress(info);
    const caller: Caller = {
      user: null,
      address: clientAddress(
        socket,
        request.headers.get("x-forwarded-for"),
        options.trustedProxies ?? null,
      ),
      fromTrustedProxy: info?.remoteAddr.transport === "unix" ||
        (options.trustedProxies?.any === true && options.trustedProxies.trusts(socket)),
    };
    let response: Response;
    let reason = "";
    try {
      response = await dispatch(pipeline, request, url, caller, info);
    } catch (err) {
      ({ response, reason } = errorToResponse(err));
      if (response.status >= 500) log.error(`${request.method} ${url.pathname}: ${reason}`);
    }
    if (response.status === 403 || response.status === 404) {
      refusals.note({
        method: request.method,
        path: url.pathname,
        status: response.status,
        reason,
        user: caller.user,
        address: caller.address,
      });
    }
    logRequest(log, request, url, { response, reason, user: caller.user, address: caller.address });
    return response;
  };
}
