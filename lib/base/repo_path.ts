/**
 * Turns a request path into a typed target: which repository, and which
 * part of it. This is the only place a user string becomes a repository
 * path; everything after works on the validated segments.
 *
 * @module
 */

import {
  CONFIG_NAME,
  isObjectName,
  isObjectType,
  MAX_REPO_DEPTH,
  type ObjectType,
} from "./restic.ts";

/** The repository as a list of validated path segments; `[]` is the root repository. */
export type RepoPath = readonly string[];

/** What a request path points at. */
export type Target =
  | { kind: "repo"; repo: RepoPath }
  | { kind: "config"; repo: RepoPath }
  | { kind: "list"; repo: RepoPath; type: ObjectType }
  | { kind: "object"; repo: RepoPath; type: ObjectType; name: string };

/** Longest accepted segment in UTF-8 bytes: the usual file name limit. */
const MAX_SEGMENT_BYTES = 255;

// NUL, other control characters, backslash and slash: never part of a folder
// name here. `%` after decoding means double encoding (`%252e`), which a proxy
// that decodes again would turn into `..`: refused as well.
// deno-lint-ignore no-control-regex
const FORBIDDEN_SEGMENT_CHARS = /[\u0000-\u001f\u007f\\/%]/;

const encoder = new TextEncoder();

/**
 * Tells whether a decoded segment may name a repository folder.
 *
 * Refused: empty, `.`/`..` and any dotfile (so `.htpasswd` or `.ssh` under
 * the data directory is never served), NUL, control characters, `\`, a
 * decoded `/` or `%`, names of the repository's own folders, and over-long names.
 *
 * @param segment One percent-decoded path segment.
 * @returns `true` when the segment is safe to use as a folder name.
 */
export function isValidRepoSegment(segment: string): boolean {
  return segment.length > 0 &&
    !segment.startsWith(".") &&
    !FORBIDDEN_SEGMENT_CHARS.test(segment) &&
    !isObjectType(segment) &&
    segment !== CONFIG_NAME &&
    encoder.encode(segment).length <= MAX_SEGMENT_BYTES;
}

function decodeSegment(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null; // malformed escape such as `%zz` or overlong UTF-8
  }
}

/**
 * Parses a URL path (still percent-encoded, as in `URL.pathname`) from the
 * right, as docs/protocol.md §1 says.
 *
 * @param pathname The request path, starting with `/`.
 * @returns The target, or `null` when the path does not parse (answer 404).
 *
 * @example
 * ```ts
 * parseTarget("/a/b/data/"); // { kind: "list", repo: ["a", "b"], type: "data" }
 * parseTarget("/../config"); // null
 * ```
 */
export function parseTarget(pathname: string): Target | null {
  if (!pathname.startsWith("/")) return null;
  const parts: string[] = [];
  for (const raw of pathname.slice(1).split("/")) {
    const decoded = decodeSegment(raw);
    if (decoded === null) return null;
    parts.push(decoded);
  }
  const last = parts.pop() as string;
  const parent = parts.at(-1);
  let target: Target;
  if (last === "") {
    target = parent !== undefined && isObjectType(parent)
      ? { kind: "list", repo: parts.slice(0, -1), type: parent }
      : { kind: "repo", repo: parts };
  } else if (last === CONFIG_NAME) {
    target = { kind: "config", repo: parts };
  } else if (parent !== undefined && isObjectType(parent)) {
    if (!isObjectName(last)) return null;
    target = { kind: "object", repo: parts.slice(0, -1), type: parent, name: last };
  } else {
    return null;
  }
  if (target.repo.length > MAX_REPO_DEPTH || !target.repo.every(isValidRepoSegment)) return null;
  return target;
}

/**
 * Why a path does not parse, in words a client can act on (for the answer's
 * body and the log); call it only for a path {@link parseTarget} refused.
 *
 * @param pathname The request path, still percent-encoded.
 * @returns One short sentence.
 */
export function explainUnparsed(pathname: string): string {
  const segments = pathname.slice(1).split("/").map((raw) => decodeSegment(raw));
  if (segments.some((s) => s === null)) return "the path is not valid percent-encoding";
  const parts = segments as string[];
  const last = parts.at(-1) ?? "";
  const parent = parts.at(-2);
  if (last !== "" && last !== CONFIG_NAME && parent !== undefined && isObjectType(parent)) {
    return "an object's name is 64 lowercase hex digits, its SHA-256";
  }
  const folders = last === "" || last === CONFIG_NAME ? parts.slice(0, -1) : parts;
  if (last !== "" && last !== CONFIG_NAME && !(parent !== undefined && isObjectType(parent))) {
    return "the path ends in neither config, / nor an object in data, index, keys, locks or snapshots";
  }
  const repo = last === "" && parent !== undefined && isObjectType(parent)
    ? folders.slice(0, -1)
    : folders;
  if (repo.some((s) => isObjectType(s) || s === CONFIG_NAME)) {
    return "data, index, keys, locks, snapshots and config are restic's own names, never a repository folder";
  }
  if (repo.some((s) => s.startsWith("."))) return "folders starting with a dot are never served";
  if (repo.length > MAX_REPO_DEPTH) {
    return `repositories lie at most ${MAX_REPO_DEPTH} folders deep`;
  }
  return "a folder name in the path is empty, too long or holds a character no folder may hold";
}

/**
 * Formats a repository path for logs and metric labels.
 *
 * @param repo Validated repository segments.
 * @returns `/` for the root repository, otherwise `/a/b/`.
 */
export function formatRepo(repo: RepoPath): string {
  return repo.length === 0 ? "/" : `/${repo.join("/")}/`;
}
