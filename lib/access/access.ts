/**
 * Who may do what: the access modes, what each allows, and the decision for
 * a user and a repository from the flags and an {@link AccessPolicy}. Pure;
 * `policy.ts` reads a policy file into this vocabulary.
 *
 * @module
 */

import type { RepoPath } from "../base/repo_path.ts";
import type { ObjectType } from "../base/restic.ts";

/** How much a request may change a repository. */
export type AccessMode = "full" | "append-only" | "read-only";

/**
 * Tells whether a mode may create a repository.
 *
 * @param mode The access mode.
 * @returns `false` only for read-only.
 */
export function mayCreateRepo(mode: AccessMode): boolean {
  return mode !== "read-only";
}

/**
 * Tells whether a mode may store a new object. Read-only users may still
 * take and release locks, so `restore` and `check` work for them.
 *
 * @param mode The access mode.
 * @param type The object type, or `config`.
 * @returns Whether the upload is allowed.
 */
export function mayWrite(mode: AccessMode, type: ObjectType | "config"): boolean {
  return mode !== "read-only" || type === "locks";
}

/**
 * Tells whether a mode may delete an object: full access may delete
 * anything; the others only locks.
 *
 * @param mode The access mode.
 * @param type The object type, or `config`.
 * @returns Whether the delete is allowed.
 */
export function mayDelete(mode: AccessMode, type: ObjectType | "config"): boolean {
  return mode === "full" || type === "locks";
}

/**
 * Tells whether a mode may delete a whole repository: only full access.
 *
 * @param mode The access mode.
 * @returns `true` for full access.
 */
export function mayDeleteRepo(mode: AccessMode): boolean {
  return mode === "full";
}

/** Per-user, per-repository modes, as a policy file gives them. */
export interface AccessPolicy {
  /** The mode a user has in a repository, or `null` when the user may not reach it. */
  modeFor(user: string, repo: RepoPath): AccessMode | null;
}

/** The flags and policy that decide access. */
export interface AccessRules {
  appendOnly: boolean;
  privateRepos: boolean;
  policy: AccessPolicy | null;
}

/** What a user may do in a repository (and which setting says so), or why not at all. */
export type AccessDecision =
  | { ok: true; mode: AccessMode; source: AccessSource }
  | { ok: false; status: 401 | 403; reason: string };

/** The setting that gave a mode: the flag, the policy file, or nothing (full access). */
export type AccessSource = "--append-only" | "the policy file" | "the default";

/**
 * Decides what a user may do in a repository. The repository is the parsed
 * list of segments that also builds the file path, so what is checked is
 * exactly what is touched.
 *
 * @param rules Flags and policy.
 * @param user The authenticated user, or `null` without authentication.
 * @param repo The repository segments.
 * @returns The mode, or a refusal: 401 for another user's private
 *   repository (as rest-server), 403 where the policy gives no access.
 */
export function decideAccess(
  rules: AccessRules,
  user: string | null,
  repo: RepoPath,
): AccessDecision {
  const flagMode: AccessMode = rules.appendOnly ? "append-only" : "full";
  const flagSource: AccessSource = rules.appendOnly ? "--append-only" : "the default";
  if (user === null) return { ok: true, mode: flagMode, source: flagSource };
  if (rules.privateRepos && repo[0] !== user) {
    return {
      ok: false,
      status: 401,
      reason: `"${user}" may only reach /${user}/ (--private-repos)`,
    };
  }
  if (rules.policy) {
    const mode = rules.policy.modeFor(user, repo);
    if (mode === null) {
      return {
        ok: false,
        status: 403,
        reason: `the policy file gives "${user}" no rule for this path`,
      };
    }
    return rules.appendOnly && mode === "full"
      ? { ok: true, mode: "append-only", source: "--append-only" }
      : { ok: true, mode, source: "the policy file" };
  }
  return { ok: true, mode: flagMode, source: flagSource };
}
