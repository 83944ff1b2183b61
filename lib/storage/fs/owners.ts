/**
 * Who created each lock, in the file storage: a small file beside the lock,
 * `.restic-rest-owner-<name>`, holding the user name. It is made durable
 * before the lock appears and removed after the lock is gone, so a crash
 * leaves at most an owner file without its lock, which the start-up walk
 * removes. A dotfile: never listed, never reachable as a path.
 *
 * @module
 */

import { basename, dirname, existsSync, join, syncDir } from "../../base/fs_util.ts";
import { TEMP_FILE_PREFIX } from "../../base/restic.ts";
import { regularFile } from "./folders.ts";

/** The start of an owner file's name; the lock's name follows. */
export const OWNER_FILE_PREFIX = ".restic-rest-owner-";

/**
 * The owner file of a lock.
 *
 * @param lockPath The lock's path.
 * @returns The path of its owner file.
 */
export function ownerFileOf(lockPath: string): string {
  return join(dirname(lockPath), OWNER_FILE_PREFIX + basename(lockPath));
}

/**
 * Records a lock's owner durably (temp file, fsync, rename, fsync of the
 * folder), before the lock itself is published.
 *
 * @param lockPath The lock's path.
 * @param owner The user name.
 * @param mode The file mode.
 * @param temp The temp file's path (the caller keeps it in its set of live uploads).
 */
export async function recordOwner(
  lockPath: string,
  owner: string,
  mode: number,
  temp: string,
): Promise<void> {
  try {
    using file = await Deno.open(temp, { write: true, createNew: true, mode });
    const data = new TextEncoder().encode(`${owner}\n`);
    let offset = 0;
    while (offset < data.length) offset += await file.write(data.subarray(offset));
    await file.syncData();
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
  Deno.renameSync(temp, ownerFileOf(lockPath));
  await syncDir(dirname(lockPath));
}

/**
 * A lock's recorded owner.
 *
 * @param lockPath The lock's path.
 * @returns The user name, or `null` when none was recorded.
 */
export function readOwner(lockPath: string): string | null {
  const path = ownerFileOf(lockPath);
  try {
    if (regularFile(path) === null) return null;
    const text = Deno.readTextFileSync(path);
    return text.endsWith("\n") ? text.slice(0, -1) : null;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * Removes a lock's owner file, if any (after the lock is gone).
 *
 * @param lockPath The lock's path.
 */
export function removeOwner(lockPath: string): void {
  const path = ownerFileOf(lockPath);
  // Most locks have none (no authentication): a lookup costs less than a failing unlink.
  if (!existsSync(path)) return;
  try {
    Deno.removeSync(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** The temp file name an owner file is written under (the start-up walk removes leftovers). */
export function ownerTempName(lockName: string, suffix: string): string {
  return `${TEMP_FILE_PREFIX}owner-${lockName}-${suffix}`;
}
