/**
 * Listings of the file storage: valid object names of a type folder (for
 * `data`, of its subfolders), with sizes when asked; a listing whose client
 * went away stops at the next folder.
 *
 * @module
 */

import { join } from "../fs_util.ts";
import { isObjectName } from "../restic.ts";
import type { ObjectInfo } from "./types.ts";

/** How many `lstat` calls a v2 listing makes between yields. */
const LIST_STAT_BATCH = 128;

/** The visible subfolders of `data/` (the `xx` fan-out), as paths. */
export function* subfolders(dataDir: string): Generator<string> {
  for (const entry of readFolder(dataDir)) {
    if (entry.isDirectory && !entry.name.startsWith(".")) yield join(dataDir, entry.name);
  }
}

/** A folder's entries; one that vanished meanwhile is empty. */
function readFolder(folder: string): Deno.DirEntry[] {
  try {
    return Array.from(Deno.readDirSync(folder));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

/**
 * The objects in these folders whose names are valid object names (temp
 * files and strays are skipped), with their sizes (and times) when asked.
 */
export async function* listObjects(
  folders: AsyncIterable<string> | Iterable<string>,
  detail: { withSizes: boolean; withTimes?: boolean },
  signal?: AbortSignal,
): AsyncGenerator<ObjectInfo> {
  const { withSizes, withTimes = false } = detail;
  for await (const folder of folders) {
    if (signal?.aborted) return;
    // Deno's async readDir costs about 3.5 times readDirSync per entry; one
    // folder (a few thousand entries even in a huge repository, thanks to the
    // data/xx fan-out) blocks the event loop for about a millisecond.
    const names: string[] = [];
    for (const entry of readFolder(folder)) {
      if (entry.isFile && isObjectName(entry.name)) names.push(entry.name);
    }
    if (!withSizes && !withTimes) {
      for (const name of names) yield { name, size: -1 };
      continue;
    }
    // Synchronous lstat in small batches: a thread-pool round trip per file
    // costs several times the system call itself, and a batch blocks the
    // event loop for well under a millisecond.
    for (let i = 0; i < names.length; i += LIST_STAT_BATCH) {
      const batch: ObjectInfo[] = [];
      for (const name of names.slice(i, i + LIST_STAT_BATCH)) {
        try {
          const info = Deno.lstatSync(join(folder, name));
          batch.push(
            withTimes
              ? { name, size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 }
              : { name, size: info.size },
          );
        } catch {
          // deleted meanwhile
        }
      }
      yield* batch;
    }
  }
}
