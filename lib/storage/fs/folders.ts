/**
 * The file storage never follows a symbolic link below the data folder:
 * restic never makes one, and a link planted there (by anyone who may write
 * into the folder) would lead reads, writes and removals outside it. Every
 * folder on the way from the data folder to an object is checked to be a
 * real folder; a check holds for a few seconds, so the hot paths pay a map
 * lookup per folder instead of a system call.
 *
 * @module
 */

import { StorageError } from "../types.ts";

/** How long a folder seen to be real is believed (ms). */
const BELIEVED_MS = 5_000;
/** Folders remembered at most; past it the table starts afresh. */
const MAX_REMEMBERED = 16_384;

/** Checks the folders below a data folder. */
export class FolderGuard {
  readonly #root: string;
  /** Folder path → until when it is believed to be real. */
  readonly #seen = new Map<string, number>();

  /** @param root The data folder (which may itself be a link: the administrator chose it). */
  constructor(root: string) {
    this.#root = root;
  }

  /**
   * Checks that every folder from the data folder down `segments` that
   * exists is a real folder (missing ones are fine: they will be made).
   *
   * @param segments Folder names below the data folder.
   * @throws {StorageError} `Io` (answered 500, logged) when one is a link or not a folder.
   */
  check(segments: readonly string[]): void {
    let path = this.#root;
    let now = 0;
    for (const segment of segments) {
      path += `/${segment}`;
      const until = this.#seen.get(path);
      if (until !== undefined && until > (now ||= Date.now())) continue;
      let info: Deno.FileInfo;
      try {
        info = Deno.lstatSync(path);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return;
        throw err;
      }
      if (!info.isDirectory) {
        throw new StorageError(
          "Io",
          `${path} is ${info.isSymlink ? "a symbolic link" : "not a folder"}; ` +
            "restic-rest follows no links below the data folder",
        );
      }
      if (this.#seen.size >= MAX_REMEMBERED) this.#seen.clear();
      this.#seen.set(path, (now ||= Date.now()) + BELIEVED_MS);
    }
  }

  /** Forgets every folder, so the next checks look again (after a removal). */
  forget(): void {
    this.#seen.clear();
  }
}

/**
 * The regular file at `path`, or `null` when nothing is there.
 *
 * @param path The object's path.
 * @returns Its metadata (never a link's target).
 * @throws {StorageError} `Io` (answered 500, logged) when something else is there.
 */
export function regularFile(path: string): Deno.FileInfo | null {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  if (!info.isFile) {
    throw new StorageError(
      "Io",
      `${path} is ${info.isSymlink ? "a symbolic link" : "not a regular file"}; ` +
        "restic-rest serves and replaces only regular files",
    );
  }
  return info;
}
