/**
 * What an access mode allows. Pure; the mode itself comes from the flags
 * and (later) the policy file, decided per user and repository.
 *
 * @module
 */

import type { ObjectType } from "./restic.ts";

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
