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

/** The most entries in one page of a listing (a flat folder can be large). */
const PAGE_ENTRIES = 2048;

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
 * files and strays are skipped), with their sizes (and times) when asked, a
 * page per folder (at most {@link PAGE_ENTRIES} entries).
 */
export async function* listPages(
  folders: AsyncIterable<string> | Iterable<string>,
  detail: { withSizes: boolean; withTimes?: boolean },
  signal?: AbortSignal,
): AsyncGenerator<ObjectInfo[]> {
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
    for (let i = 0; i < names.length; i += PAGE_ENTRIES) {
      const part = names.slice(i, i + PAGE_ENTRIES);
      yield withSizes || withTimes ? describe(folder, part, withTimes) : part.map(nameOnly);
    }
  }
}

function nameOnly(name: string): ObjectInfo {
  return { name, size: -1 };
}

/**
 * Sizes (and times) by synchronous lstat: a thread-pool round trip per file
 * costs several times the system call itself, and a page blocks the event
 * loop for a few milliseconds at most.
 */
function describe(folder: string, names: string[], withTimes: boolean): ObjectInfo[] {
  const page: ObjectInfo[] = [];
  for (const name of names) {
    try {
      const info = Deno.lstatSync(`${folder}/${name}`);
      page.push(
        withTimes
          ? { name, size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 }
          : { name, size: info.size },
      );
    } catch {
      // deleted meanwhile
    }
  }
  return page;
}
