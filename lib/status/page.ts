/**
 * The status page a browser gets at `/` and at a repository's address, and
 * the same report as JSON for a script. restic never sends `GET /` or
 * `GET /REPO/` with these media types, so the protocol is untouched.
 *
 * @module
 */

import { formatRepo, type RepoPath } from "../base/repo_path.ts";
import { buildReport, type StatusReport, type StatusSource, type Viewer } from "./report.ts";
import { renderStatusPage, STATUS_PAGE_CSP } from "./html.ts";

export type { StatusReport, StatusSource, Viewer } from "./report.ts";

/** The formats the page is served in. */
export type StatusFormat = "html" | "json";

/**
 * The format a request asks for: HTML for a browser, JSON for a script that
 * says so, `null` for anything else (restic, curl without `Accept`).
 *
 * @param request The request.
 * @returns The format, or `null`.
 */
export function statusFormat(request: Request): StatusFormat | null {
  if (request.method !== "GET" && request.method !== "HEAD") return null;
  const accept = request.headers.get("accept") ?? "";
  if (/\btext\/html\b/i.test(accept)) return "html";
  if (/\bapplication\/json\b/i.test(accept)) return "json";
  return null;
}

/** The status page of one server. */
export class StatusPage {
  readonly #source: StatusSource;

  /** @param source The inventory and server facts the page shows. */
  constructor(source: StatusSource) {
    this.#source = source;
  }

  /**
   * The report for a viewer (see {@link buildReport}).
   *
   * @param viewer Who asks.
   * @param scope `[]` for the whole server, or a repository's segments.
   * @returns The report.
   */
  report(viewer: Viewer, scope: RepoPath): Promise<StatusReport> {
    return buildReport(this.#source, viewer, scope);
  }

  /**
   * Answers a status request.
   *
   * @param format HTML or JSON.
   * @param viewer Who asks.
   * @param scope `[]` for the whole server, or a repository's segments.
   * @param head Whether the body is to be left out (HEAD).
   * @returns The page, or `null` when `scope` names a repository the viewer cannot see.
   */
  async respond(
    format: StatusFormat,
    viewer: Viewer,
    scope: RepoPath,
    head = false,
  ): Promise<Response | null> {
    const report = await this.report(viewer, scope);
    if (scope.length > 0 && report.repositories.length === 0) return null;
    const headers: Record<string, string> = {
      "cache-control": "no-store",
      "vary": "accept, authorization",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    };
    let body: string;
    if (format === "json") {
      headers["content-type"] = "application/json";
      body = JSON.stringify(report) + "\n";
    } else {
      headers["content-type"] = "text/html; charset=utf-8";
      headers["content-security-policy"] = STATUS_PAGE_CSP;
      headers["x-frame-options"] = "DENY";
      body = renderStatusPage(report, formatRepo(scope));
    }
    const bytes = new TextEncoder().encode(body);
    headers["content-length"] = String(bytes.length);
    return new Response(head ? null : bytes, { headers });
  }
}
