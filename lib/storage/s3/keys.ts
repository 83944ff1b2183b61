/**
 * restic's own S3 layout, so that restic's `s3:` backend and restic-rest
 * open the same repositories: `PREFIX/REPO/config`, `PREFIX/REPO/keys/ID`,
 * `PREFIX/REPO/data/ab/ID`, …; and the two markers restic-rest adds beside
 * them, which restic never reads (it lists only its type prefixes); and the
 * short-lived key of the start-up probe (`probe`).
 *
 * @module
 */

import { isValidRepoSegment, type RepoPath } from "../../base/repo_path.ts";
import { isObjectName, isObjectType, MAX_REPO_DEPTH, REMOVAL_MARKER } from "../../base/restic.ts";
import type { ObjectRef } from "../types.ts";

/** Marks a repository made by `POST ?create=true` before it has a config. */
export const CREATED_MARKER = ".restic-rest-repository";

/** What a key in the bucket is. */
export type KeyMeaning =
  | { kind: "object"; ref: ObjectRef }
  | { kind: "created" | "removing"; repo: RepoPath }
  | { kind: "other" };

/** The keys of one store prefix. */
export class KeyLayout {
  /** @param prefix Every key's start: `""` or `"some/prefix/"`. */
  constructor(readonly prefix: string) {}

  /** The start of a repository's keys: `PREFIX/a/b/` (`PREFIX` for the root repository). */
  repo(repo: RepoPath): string {
    return this.prefix + repo.map((segment) => `${segment}/`).join("");
  }

  /** An object's key. */
  object(ref: ObjectRef): string {
    const base = this.repo(ref.repo);
    if (ref.type === "config") return `${base}config`;
    if (ref.type === "data") return `${base}data/${ref.name.slice(0, 2)}/${ref.name}`;
    return `${base}${ref.type}/${ref.name}`;
  }

  /** Where a listing of one type starts. */
  type(repo: RepoPath, type: string): string {
    return `${this.repo(repo)}${type}/`;
  }

  created(repo: RepoPath): string {
    return `${this.repo(repo)}${CREATED_MARKER}`;
  }

  removing(repo: RepoPath): string {
    return `${this.repo(repo)}${REMOVAL_MARKER}`;
  }

  /** A key for the start-up probe of the store's checks: no repository's, never a restic name. */
  probe(id: string): string {
    return `${this.prefix}.restic-rest-probe-${id}`;
  }

  /**
   * What a key of a whole-bucket listing is: an object restic would read,
   * a marker, or anything else (strays, other tools' keys).
   *
   * @param key A key under the prefix.
   * @returns Its meaning.
   */
  meaning(key: string): KeyMeaning {
    if (!key.startsWith(this.prefix)) return { kind: "other" };
    const parts = key.slice(this.prefix.length).split("/");
    const last = parts.pop()!;
    const repoOf = (segments: string[]): RepoPath | null =>
      segments.length <= MAX_REPO_DEPTH && segments.every(isValidRepoSegment) ? segments : null;
    if (last === "config" || last === CREATED_MARKER || last === REMOVAL_MARKER) {
      const repo = repoOf(parts);
      if (!repo) return { kind: "other" };
      if (last === "config") return { kind: "object", ref: { repo, type: "config" } };
      return { kind: last === CREATED_MARKER ? "created" : "removing", repo };
    }
    if (!isObjectName(last)) return { kind: "other" };
    // As on a disk: data keeps its objects one subfolder down (restic's own is ab/ for abcd…).
    const fanned = parts.at(-2) === "data" && parts.length >= 2 && !parts.at(-1)!.startsWith(".");
    const typeAt = fanned ? parts.length - 2 : parts.length - 1;
    const type = parts[typeAt];
    const repo = repoOf(parts.slice(0, typeAt));
    if (!repo || type === undefined || !isObjectType(type) || (type === "data") !== fanned) {
      return { kind: "other" };
    }
    return { kind: "object", ref: { repo, type, name: last } };
  }
}
