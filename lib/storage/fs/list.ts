/**
 * Listings of the file storage: valid object names of a type folder (for
 * `data`, of its subfolders), with sizes when asked; a listing whose client
 * went away stops at the next folder.
 *
 * @module
 */

import { join } from "../../base/fs_util.ts";
import { isObjectName, OBJECT_NAME_LENGTH } from "../../base/restic.ts";
import type { ListPage } from "../types.ts";

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
): AsyncGenerator<ListPage> {
  const { withSizes, withTimes = false } = detail;
  for await (const folder of folders) {
    if (signal?.aborted) return;
    // Deno's async readDir costs about 3.5 times readDirSync per entry; one
    // folder (a few thousand entries even in a huge repository, thanks to the
    // data/xx fan-out) blocks the event loop for about a millisecond.
    const names: string[] = [];
    for (const entry of readFolder(folder)) {
      const { name } = entry;
      if (name.length === OBJECT_NAME_LENGTH && entry.isFile && isObjectName(name)) {
        names.push(name);
      }
    }
    for (let i = 0; i < names.length; i += PAGE_ENTRIES) {
      const part = names.length <= PAGE_ENTRIES ? names : names.slice(i, i + PAGE_ENTRIES);
      yield withSizes || withTimes
        ? describe(folder, part, withTimes)
        : { names: part, sizes: null };
    }
  }
}

/**
 * Sizes (and times) by synchronous lstat: a thread-pool round trip per file
 * costs several times the system call itself, and a page blocks the event
 * loop for a few milliseconds at most.
 */
function describe(folder: string, names: string[], withTimes: boolean): ListPage {
  const page: ListPage = { names: [], sizes: [], mtimes: withTimes ? [] : undefined };
  for (const name of names) {
    try {
      const info = Deno.lstatSync(`${folder}/${name}`);
      page.names.push(name);
      page.sizes!.push(info.size);
      page.mtimes?.push(info.mtime?.getTime() ?? 0);
    } catch {
      // deleted meanwhile
    }
  }
  return page;
}
