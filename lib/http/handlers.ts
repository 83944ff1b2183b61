/**
 * One function per REST operation. Handlers speak HTTP on one side and the
 * {@link Storage} interface on the other; they never touch files.
 *
 * @module
 */

import {
  type AccessMode,
  type AccessSource,
  mayCreateRepo,
  mayDelete,
  mayDeleteRepo,
  mayWrite,
} from "../access/access.ts";
import { HttpError } from "./errors.ts";
import { STATUS_CODE } from "./status_codes.ts";
import { parseContentLength, uploadBody } from "./body.ts";
import { jsonPagesStream } from "./json_stream.ts";
import { cutsAtLength, parseRange } from "./range.ts";
import { formatRepo, type RepoPath, type Target } from "../base/repo_path.ts";
import { LIST_V1_MEDIA_TYPE, LIST_V2_MEDIA_TYPE, OBJECT_MEDIA_TYPE } from "../base/restic.ts";
import {
  type ListPage,
  type LockRef,
  type ObjectRef,
  type Storage,
  StorageError,
} from "../storage/types.ts";
import type { Logger } from "../base/log.ts";
import type { Metrics } from "../status/metrics.ts";

/** Everything a handler knows about one request. */
export interface RequestContext {
  request: Request;
  target: Target;
  /** What this user may do in this repository. */
  access: AccessMode;
  /** Which setting gave that mode, for the reason of a refusal. */
  accessSource: AccessSource;
  /** The authenticated user, or `null` without authentication. */
  user: string | null;
  /** Aborted when the client went away before its response was sent. */
  readonly signal: AbortSignal;
}

/** A REST operation. */
export type Handler = (ctx: RequestContext) => Promise<Response>;

/** What the handlers need. */
export interface HandlerDeps {
  storage: Storage;
  log: Logger;
  /** Whether `DELETE {repo}/` may remove a repository (`--allow-repo-delete`). */
  allowRepoDelete?: boolean;
  /** The clock, in epoch ms (tests move it instead of ageing stored objects). */
  now?: () => number;
  /** Check each upload's SHA-256 against its name. */
  verifyUpload: boolean;
  /** Counts blob reads, writes and deletes, when metrics are on. */
  metrics?: Metrics | null;
  /** An upload that sends nothing for this long (ms) fails with 408. */
  idleTimeoutMs?: number;
}

/** The REST operations, by name. */
export interface Handlers {
  createRepo: Handler;
  deleteRepo: Handler;
  headObject: Handler;
  getObject: Handler;
  saveObject: Handler;
  deleteObject: Handler;
  listObjects: Handler;
}

/** Headers on every object body: binary, rangeable, never transformed by a proxy. */
const OBJECT_HEADERS = {
  "content-type": OBJECT_MEDIA_TYPE,
  "accept-ranges": "bytes",
  "cache-control": "no-store, no-transform",
};

function objectRef(target: Target): ObjectRef {
  if (target.kind === "config") return { repo: target.repo, type: "config" };
  if (target.kind === "object") {
    return { repo: target.repo, type: target.type, name: target.name };
  }
  throw new Error(`Cannot make an object reference from a ${target.kind} target`);
}

/** A refusal that names the mode and the setting that gave it. */
function refusedBy(ctx: RequestContext, what: string): HttpError {
  const who = ctx.user === null ? "nobody" : `"${ctx.user}"`;
  return new HttpError(
    STATUS_CODE.Forbidden,
    `${who} may not ${what} here: ${ctx.access} by ${ctx.accessSource}`,
  );
}

function ok(): Response {
  return new Response(null, { status: STATUS_CODE.OK });
}

/** Counts a blob operation; the config is not a blob. */
function count(
  { metrics }: HandlerDeps,
  operation: "read" | "write" | "delete",
  { user, target }: RequestContext,
  bytes: number,
): void {
  if (metrics && target.kind === "object") {
    metrics.record(operation, user ?? "", target.repo, target.type, bytes);
  }
}

async function createRepo({ storage }: HandlerDeps, ctx: RequestContext): Promise<Response> {
  const { request, target, access, signal } = ctx;
  if (new URL(request.url).searchParams.get("create") !== "true") {
    throw new HttpError(STATUS_CODE.BadRequest, "POST on a repository needs ?create=true");
  }
  if (!mayCreateRepo(access)) {
    throw refusedBy(ctx, "create a repository");
  }
  await storage.createRepo(target.repo, { signal: signal });
  return ok();
}

/** How young a lock keeps a repository from being deleted: restic calls older ones stale. */
const FRESH_LOCK_MS = 30 * 60 * 1000;

/** Tells whether a repository holds a lock younger than {@link FRESH_LOCK_MS}. */
async function hasFreshLock(
  storage: Storage,
  repo: RepoPath,
  signal: AbortSignal,
  now: number,
): Promise<boolean> {
  let locks: AsyncIterable<ListPage>;
  try {
    locks = await storage.list(repo, "locks", true, { withTimes: true, signal });
  } catch (err) {
    if (err instanceof StorageError && err.code === "NotFound") return false;
    throw err;
  }
  const since = now - FRESH_LOCK_MS;
  for await (const page of locks) {
    if ((page.mtimes ?? []).some((time) => time > since)) return true;
  }
  return false;
}

/** `DELETE {repo}/`: removes a whole repository, when the server and the user's rights allow. */
async function deleteRepo(
  { storage, log, allowRepoDelete, now = Date.now }: HandlerDeps,
  ctx: RequestContext,
): Promise<Response> {
  const { target, access, user, signal } = ctx;
  const where = formatRepo(target.repo);
  if (!allowRepoDelete) {
    throw new HttpError(
      STATUS_CODE.Forbidden,
      "deleting repositories is off (--allow-repo-delete)",
    );
  }
  if (!mayDeleteRepo(access)) {
    throw refusedBy(ctx, "delete a repository");
  }
  if (await hasFreshLock(storage, target.repo, signal, now())) {
    throw new HttpError(STATUS_CODE.Conflict, `${where} holds a lock younger than 30 minutes`);
  }
  if (!(await storage.removeRepo(target.repo, { signal: signal }))) {
    throw new HttpError(STATUS_CODE.NotFound, `no repository at ${where}`);
  }
  log.info(`deleted repository ${where} (user ${user === null ? "-" : `"${user}"`})`);
  return ok();
}

async function headObject(
  { storage }: HandlerDeps,
  { target, signal }: RequestContext,
): Promise<Response> {
  const size = await storage.stat(objectRef(target), { signal: signal });
  return new Response(null, {
    status: STATUS_CODE.OK,
    headers: { ...OBJECT_HEADERS, "content-length": String(size) },
  });
}

async function getObject(deps: HandlerDeps, ctx: RequestContext): Promise<Response> {
  const { request, target, signal } = ctx;
  const rangeHeader = request.headers.get("range");
  const object = await deps.storage.open(objectRef(target), {
    signal,
    whole: rangeHeader === null,
  });
  const { size } = object;
  const range = parseRange(rangeHeader, size);
  if (range.kind === "unsatisfiable") {
    object.close();
    throw new HttpError(
      STATUS_CODE.RangeNotSatisfiable,
      `Range "${request.headers.get("range")}" does not fit ${size} bytes`,
      { "content-range": `bytes */${size}` },
    );
  }
  if (range.kind === "full") {
    count(deps, "read", ctx, size);
    return new Response(await object.body(0, size - 1), {
      status: STATUS_CODE.OK,
      headers: { ...OBJECT_HEADERS, "content-length": String(size) },
    });
  }
  const { start, end } = range;
  count(deps, "read", ctx, end - start + 1);
  const body = await object.body(start, end, { cutAtLength: cutsAtLength(request) });
  return new Response(body, {
    status: STATUS_CODE.PartialContent,
    headers: {
      ...OBJECT_HEADERS,
      "content-length": String(end - start + 1),
      "content-range": `bytes ${start}-${end}/${size}`,
    },
  });
}

async function saveObject(deps: HandlerDeps, ctx: RequestContext): Promise<Response> {
  const { request, target, access, signal } = ctx;
  const ref = objectRef(target);
  if (!mayWrite(access, ref.type)) {
    throw refusedBy(ctx, `store ${ref.type}`);
  }
  const contentLength = parseContentLength(request);
  const body = await uploadBody(request, contentLength, deps.idleTimeoutMs);
  const saved = await deps.storage.save(ref, body, {
    verifyHash: deps.verifyUpload,
    contentLength,
    idleTimeoutMs: deps.idleTimeoutMs,
    owner: ctx.user,
    signal: signal,
  });
  if (saved.created) count(deps, "write", ctx, saved.size);
  return ok();
}

/**
 * Whether a user may delete a lock: their own, or any with full rights.
 * Deleting another client's exclusive lock would let a backup run during a
 * prune. A lock already gone is anybody's (the delete is idempotent).
 */
async function mayDeleteLock(
  deps: HandlerDeps,
  ctx: RequestContext,
  ref: LockRef,
): Promise<boolean> {
  if (ctx.access === "full" || ctx.user === null) return true;
  try {
    return (await deps.storage.lockOwner(ref, { signal: ctx.signal })) === ctx.user;
  } catch (err) {
    if (err instanceof StorageError && err.code === "NotFound") return true;
    throw err;
  }
}

async function deleteObject(deps: HandlerDeps, ctx: RequestContext): Promise<Response> {
  const { target, access, signal } = ctx;
  const ref = objectRef(target);
  if (!mayDelete(access, ref.type)) {
    throw refusedBy(ctx, `delete ${ref.type}`);
  }
  if (ref.type === "locks" && !(await mayDeleteLock(deps, ctx, { ...ref, type: "locks" }))) {
    throw new HttpError(
      STATUS_CODE.Forbidden,
      `${ctx.user} may not delete another user's lock (${access} here, by ${ctx.accessSource}): ` +
        "only its owner or a user with full rights may",
    );
  }
  const removed = await deps.storage.remove(ref, { signal: signal });
  if (removed.existed !== false) count(deps, "delete", ctx, removed.size ?? 0);
  return ok();
}

/** A page of names as JSON strings; listed names are 64 hex digits (the contract): nothing to escape. */
function encodeNames(page: ListPage): string {
  return page.names.length === 0 ? "" : `"${page.names.join('","')}"`;
}

/** A page as v2 entries. */
function encodeWithSizes(page: ListPage): string {
  const { names, sizes } = page;
  let text = "";
  for (let i = 0; i < names.length; i++) {
    text += `${i === 0 ? "" : ","}{"name":"${names[i]}","size":${sizes?.[i] ?? 0}}`;
  }
  return text;
}

async function listObjects(
  { storage }: HandlerDeps,
  { request, target, signal }: RequestContext,
): Promise<Response> {
  if (target.kind !== "list") throw new Error("listObjects needs a list target");
  const v2 = request.headers.get("accept") === LIST_V2_MEDIA_TYPE;
  const entries = await storage.list(target.repo, target.type, v2, { signal: signal });
  const body = jsonPagesStream(entries, v2 ? encodeWithSizes : encodeNames);
  return new Response(body, {
    status: STATUS_CODE.OK,
    headers: { "content-type": v2 ? LIST_V2_MEDIA_TYPE : LIST_V1_MEDIA_TYPE },
  });
}

/**
 * Builds the REST operations on top of a storage.
 *
 * @param deps The storage and upload options.
 * @returns One handler per operation.
 */
export function createHandlers(deps: HandlerDeps): Handlers {
  const bind =
    (operation: (deps: HandlerDeps, ctx: RequestContext) => Promise<Response>) =>
    (ctx: RequestContext): Promise<Response> => operation(deps, ctx);
  return {
    createRepo: bind(createRepo),
    deleteRepo: bind(deleteRepo),
    headObject: bind(headObject),
    getObject: bind(getObject),
    saveObject: bind(saveObject),
    deleteObject: bind(deleteObject),
    listObjects: bind(listObjects),
  };
}
