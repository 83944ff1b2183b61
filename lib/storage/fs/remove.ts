/**
 * Removing a repository from the file storage, so that a crash at any point
 * leaves nothing restic would use: a marker first, then the config, then the
 * objects and type folders, then the marker. Whoever finds the marker later
 * (start-up cleanup, a create, a config upload, another removal) finishes it.
 *
 * @module
 */

import { existsSync, join, syncDir } from "../../base/fs_util.ts";
import { OBJECT_TYPES, REMOVAL_MARKER } from "../../base/restic.ts";

/**
 * Removals under way in this process, by folder. The start-up walk finishing
 * a removal cut short and a create (or a DELETE) finding the same marker
 * would otherwise remove folders under each other (seen in CI: a create
 * answered 404 when the walk deleted a type folder it had just made).
 */
const removals = new Map<string, Promise<boolean>>();

/**
 * Tells whether a removal of the repository in `repoDir` was cut short, or
 * is under way in this process.
 *
 * @param repoDir The repository's folder.
 * @returns `true` when its removal marker is there or its removal is running.
 */
export function removalPending(repoDir: string): boolean {
  return removals.has(repoDir) || existsSync(join(repoDir, REMOVAL_MARKER));
}

/** Whether anything of the repository's own is in `repoDir`. */
function hasRepository(repoDir: string): boolean {
  return ["config", REMOVAL_MARKER, ...OBJECT_TYPES].some((name) =>
    existsSync(join(repoDir, name))
  );
}

async function removeIfThere(path: string, recursive = false): Promise<void> {
  try {
    await Deno.remove(path, { recursive });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** Writes the marker durably: after a crash, the removal is known to be under way. */
async function mark(repoDir: string, fileMode: number): Promise<void> {
  // A new file: never one a link there points to.
  const file = await Deno.open(join(repoDir, REMOVAL_MARKER), {
    write: true,
    createNew: true,
    mode: fileMode,
  });
  try {
    await file.sync();
  } finally {
    file.close();
  }
  await syncDir(repoDir);
}

/**
 * Removes the repository in `repoDir`: its config, its type folders with
 * every object and temp file in them, and the folder itself when nothing
 * (such as a nested repository) is left in it. The data folder itself
 * (`isRoot`) always stays.
 *
 * @param repoDir The repository's folder.
 * @param options The file mode of the marker, and whether this is the data folder.
 * @returns `false` when there was no repository there.
 */
export function removeRepository(
  repoDir: string,
  options: { fileMode: number; isRoot: boolean },
): Promise<boolean> {
  const running = removals.get(repoDir);
  if (running) return running;
  const removal = removeNow(repoDir, options).finally(() => removals.delete(repoDir));
  removals.set(repoDir, removal);
  return removal;
}

async function removeNow(
  repoDir: string,
  options: { fileMode: number; isRoot: boolean },
): Promise<boolean> {
  if (!hasRepository(repoDir)) return false;
  if (!removalPending(repoDir)) await mark(repoDir, options.fileMode);
  // The config first, made durable: from here on restic sees no repository.
  await removeIfThere(join(repoDir, "config"));
  await syncDir(repoDir);
  for (const type of OBJECT_TYPES) await removeIfThere(join(repoDir, type), true);
  await removeIfThere(join(repoDir, REMOVAL_MARKER));
  await syncDir(repoDir);
  if (!options.isRoot) {
    try {
      await Deno.remove(repoDir); // only when empty: nested repositories stay
    } catch {
      // not empty, or gone
    }
  }
  return true;
}
