/**
 * The names the server accepts and restic's protocol constants: object
 * types, the object name pattern, user names, listing media types and the
 * `data/xx` fan-out on disk. Pure, so that every layer may import it.
 *
 * @module
 */

/** The folders a restic repository keeps its objects in. */
export const OBJECT_TYPES = ["data", "index", "keys", "locks", "snapshots"] as const;

/** One of restic's object types. */
export type ObjectType = typeof OBJECT_TYPES[number];

/** The name of the single repository configuration object. */
export const CONFIG_NAME = "config";

/** An object name: the lowercase hex SHA-256 of its content. */
export const OBJECT_NAME_PATTERN = /^[0-9a-f]{64}$/;

/** Letters, digits, `@ . _ -`: the user names accepted (htpasswd, policy, proxy header). */
export const USERNAME_PATTERN = /^[A-Za-z0-9@._-]{1,128}$/;

/** The length of every object name (a cheap first check before the pattern). */
export const OBJECT_NAME_LENGTH = 64;

/** Media type of the v1 listing: a JSON array of names. */
export const LIST_V1_MEDIA_TYPE = "application/vnd.x.restic.rest.v1";

/** Media type of the v2 listing: a JSON array of `{name, size}`. */
export const LIST_V2_MEDIA_TYPE = "application/vnd.x.restic.rest.v2";

/** Media type of every object body. */
export const OBJECT_MEDIA_TYPE = "application/octet-stream";

/** The deepest repository path accepted, in segments (upstream: 2). */
export const MAX_REPO_DEPTH = 16;

/**
 * Prefix of in-progress upload files. It starts with a dot, so it can never
 * match {@link OBJECT_NAME_PATTERN} nor be reached as a repository segment.
 */
export const TEMP_FILE_PREFIX = ".restic-rest-upload-";

/**
 * Marks a repository whose removal has begun (its config is gone). A dotfile,
 * so it is never listed nor reachable as a path.
 */
export const REMOVAL_MARKER = ".restic-rest-removing";

/**
 * Tells whether `value` is one of restic's object types.
 *
 * @param value A path segment.
 * @returns `true` for `data`, `index`, `keys`, `locks` and `snapshots`.
 */
export function isObjectType(value: string): value is ObjectType {
  return (OBJECT_TYPES as readonly string[]).includes(value);
}

/**
 * Tells whether `name` is a valid object name.
 *
 * @param name A candidate object name.
 * @returns `true` when it is 64 lowercase hex digits.
 */
export function isObjectName(name: string): boolean {
  return OBJECT_NAME_PATTERN.test(name);
}

/**
 * The two-hex-digit subfolder names that `data/` is split into.
 *
 * @returns `00` … `ff`, in order.
 */
export function dataSubfolders(): string[] {
  return Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
}
