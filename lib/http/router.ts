/**
 * Maps a parsed target and a method to a handler, and decides between 404
 * (the path does not parse: see `repo_path.ts`) and 405 with `Allow`.
 *
 * Repository paths have any depth and are parsed from the right, which a
 * fixed URLPattern cannot express; so the table is keyed by target kind.
 *
 * @module
 */

import type { Handler, Handlers, RequestContext } from "./handlers.ts";
import { HttpError } from "./errors.ts";
import { STATUS_CODE } from "./status_codes.ts";
import type { Target } from "../base/repo_path.ts";

type Method = "GET" | "HEAD" | "POST" | "DELETE";
type RouteTable = Record<Target["kind"], Partial<Record<Method, Handler>>>;

/**
 * Builds the dispatch function for a set of handlers.
 *
 * @param handlers The REST operations.
 * @returns A function that runs the handler for a request, or throws 405.
 */
export function createRouter(handlers: Handlers): (ctx: RequestContext) => Promise<Response> {
  const objectRoutes = {
    HEAD: handlers.headObject,
    GET: handlers.getObject,
    POST: handlers.saveObject,
    DELETE: handlers.deleteObject,
  };
  const table: RouteTable = {
    repo: { POST: handlers.createRepo, DELETE: handlers.deleteRepo },
    config: objectRoutes,
    list: { GET: handlers.listObjects },
    object: objectRoutes,
  };
  return (ctx: RequestContext): Promise<Response> => {
    const routes = table[ctx.target.kind];
    const handler = routes[ctx.request.method as Method];
    if (!handler) {
      throw new HttpError(
        STATUS_CODE.MethodNotAllowed,
        `${ctx.request.method} is not allowed on a ${ctx.target.kind} path`,
        { allow: Object.keys(routes).join(", ") },
      );
    }
    return handler(ctx);
  };
}
