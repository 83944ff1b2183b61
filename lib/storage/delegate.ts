/**
 * A storage that passes every call to another: the base of wrappers that
 * change one or two operations (quotas, the inventory).
 *
 * @module
 */

import type { Storage } from "./types.ts";

/**
 * Every operation of `inner`, bound to it, as a plain object to spread and
 * override.
 *
 * @param inner The storage to pass calls to.
 * @returns A storage that does exactly what `inner` does.
 */
export function delegate(inner: Storage): Storage {
  return {
    repoFootprintBytes: inner.repoFootprintBytes,
    notes: inner.notes,
    prepare: () => inner.prepare(),
    scan: (onObject, options) => inner.scan(onObject, options),
    repoExists: (repo, options) => inner.repoExists(repo, options),
    createRepo: (repo, options) => inner.createRepo(repo, options),
    removeRepo: (repo, options) => inner.removeRepo(repo, options),
    open: (ref, options) => inner.open(ref, options),
    stat: (ref, options) => inner.stat(ref, options),
    save: (ref, body, options) => inner.save(ref, body, options),
    remove: (ref, options) => inner.remove(ref, options),
    lockOwner: (ref, options) => inner.lockOwner(ref, options),
    list: (repo, type, withSizes, options) => inner.list(repo, type, withSizes, options),
    abortUploads: () => inner.abortUploads(),
    health: () => inner.health(),
  };
}
