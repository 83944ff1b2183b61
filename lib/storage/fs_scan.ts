/**
 * The walk of the file storage over every repository below the data folder:
 * it removes temp files left by interrupted uploads, finishes repository
 * removals cut short and, when asked, reports each stored object with its
 * size and time.
 *
 * @module
 */

import { existsSync, join } from "../fs_util.ts";
import { isValidRepoSegment } from "../repo_path.ts";
import {
  isObjectName,
  isObjectType,
  MAX_REPO_DEPTH,
  type ObjectType,
  TEMP_FILE_PREFIX,
} from "../restic.ts";
import { removalPending, removeRepository } from "./fs_remove.ts";
import type { CleanupReport, FoundObject, ObjectRef } from "./types.ts";

/** How many `stat` calls the walk makes at once. */
const STAT_BATCH = 128;

/** What the walk is told. */
export interface WalkOptions {
  /** Called with each stored object; absent when only cleaning up. */
  onObject?: (found: FoundObject) => void;
  /** Temp files of uploads that are running now: never removed. */
  live: ReadonlySet<string>;
  signal?: AbortSignal;
}

/** One walk over the data folder. */
class Walk {
  removedTempFiles = 0;
  finishedRemovals = 0;

  constructor(readonly options: WalkOptions) {}

  async removeTemp(path: string): Promise<void> {
    if (this.options.live.has(path)) return;
    await Deno.remove(path).catch(() => {});
    this.removedTempFiles++;
  }

  async report(folder: string, names: string[], ref: (name: string) => ObjectRef): Promise<void> {
    const { onObject } = this.options;
    if (!onObject || names.length === 0) return;
    const infos = await Promise.all(
      names.map((n) => Deno.stat(join(folder, n)).catch(() => null)),
    );
    infos.forEach((info, i) => {
      if (info?.isFile) {
        onObject({ ref: ref(names[i]), size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 });
      }
    });
  }

  async objects(folder: string, repo: string[], type: ObjectType): Promise<void> {
    let names: string[] = [];
    const ref = (name: string): ObjectRef => ({ repo, type, name });
    for await (const entry of Deno.readDir(folder)) {
      const path = join(folder, entry.name);
      if (entry.name.startsWith(TEMP_FILE_PREFIX)) await this.removeTemp(path);
      else if (entry.isDirectory && type === "data") await this.objects(path, repo, type);
      else if (entry.isFile && isObjectName(entry.name)) names.push(entry.name);
      if (names.length >= STAT_BATCH) {
        await this.report(folder, names, ref);
        names = [];
      }
    }
    await this.report(folder, names, ref);
  }

  async repository(dir: string, repo: string[]): Promise<void> {
    this.options.signal?.throwIfAborted();
    if (removalPending(dir)) {
      // A removal cut short by a crash: finish it; nested repositories stay.
      await removeRepository(dir, { fileMode: 0o600, isRoot: repo.length === 0 });
      this.finishedRemovals++;
      if (!existsSync(dir)) return; // nothing nested was left in it
    }
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.name.startsWith(TEMP_FILE_PREFIX)) await this.removeTemp(path);
      else if (entry.isFile && entry.name === "config") {
        await this.report(dir, ["config"], () => ({ repo, type: "config" }));
      } else if (entry.isDirectory && isObjectType(entry.name)) {
        await this.objects(path, repo, entry.name);
      } else if (
        entry.isDirectory && isValidRepoSegment(entry.name) && repo.length < MAX_REPO_DEPTH
      ) {
        await this.repository(path, [...repo, entry.name]);
      }
    }
  }
}

/**
 * Walks every repository below `root`, removing leftover temp files and
 * reporting objects to `onObject`.
 *
 * @param root The data folder.
 * @param options What to report and which temp files are live.
 * @returns How many temp files were removed.
 */
export async function walkRepositories(root: string, options: WalkOptions): Promise<CleanupReport> {
  const walk = new Walk(options);
  await walk.repository(root, []);
  return { removedTempFiles: walk.removedTempFiles, finishedRemovals: walk.finishedRemovals };
}
