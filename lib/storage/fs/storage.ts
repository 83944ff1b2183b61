/**
 * Storage on the local file system, laid out exactly as rest-server does:
 * `<root>/<repo…>/{config,data/xx/<name>,index/<name>,…}`. Every write goes
 * through a temp file that is hashed, fsynced and then linked into place.
 *
 * @module
 */

import { ensureDir, existsSync, join } from "../../base/fs_util.ts";
import { toStorageError } from "./errors.ts";
import { listPages, subfolders } from "./list.ts";
import { FolderGuard, regularFile } from "./folders.ts";
import { HealthProbe, prepareDataFolder } from "./health.ts";
import { readOwner, removeOwner } from "./owners.ts";
import { fileBody } from "./read.ts";
import { removalPending, removeRepository } from "./remove.ts";
import { walkRepositories } from "./scan.ts";
import { confirmExisting } from "../upload_body.ts";
import { writeUpload } from "./upload.ts";
import type { RepoPath } from "../../base/repo_path.ts";
import { dataSubfolders, OBJECT_TYPES, type ObjectType } from "../../base/restic.ts";
import {
  type CleanupReport,
  type FoundObject,
  type Health,
  type ListOptions,
  type ListPage,
  type LockRef,
  type ObjectRef,
  type OpenedObject,
  type RemoveResult,
  type SaveOptions,
  type SaveResult,
  type ScanOptions,
  type Storage,
  StorageError,
  type UploadBody,
} from "../types.ts";

/** Options of {@link FsStorage}. */
export interface FsStorageOptions {
  /** Folders 0770 and files 0660 instead of 0700 and 0600. */
  groupAccessible?: boolean;
}

/**
 * Storage in a folder of the local file system. A repository is created by
 * making its type folders, so a repository exists where its `data` folder or
 * its config is, and a missing type folder lists as a missing repository.
 */
export class FsStorage implements Storage {
  /** A repository's folders: itself, its 5 type folders and data/00…ff, a 4 KiB block each. */
  readonly repoFootprintBytes = (1 + OBJECT_TYPES.length + 256) * 4096;
  readonly #root: string;
  readonly #fileMode: number;
  readonly #dirMode: number;
  /** Set modes explicitly, whatever the umask (only for group access). */
  readonly #exactModes: boolean;
  /** Temp files of uploads in progress, removed if the server stops mid-upload. */
  readonly #uploads = new Set<string>();
  readonly #health: HealthProbe;
  readonly #folders: FolderGuard;

  /**
   * @param root The data directory; repositories live below it.
   * @param options Permission choices.
   */
  constructor(root: string, options: FsStorageOptions = {}) {
    this.#root = root;
    this.#fileMode = options.groupAccessible ? 0o660 : 0o600;
    this.#dirMode = options.groupAccessible ? 0o770 : 0o700;
    // 0700/0600 are safe under any umask; group access must not depend on it.
    this.#exactModes = (options.groupAccessible ?? false) && Deno.build.os !== "windows";
    this.#health = new HealthProbe(root, this.#fileMode);
    this.#folders = new FolderGuard(root);
  }

  /** The folders below the root that hold an object (checked: no links on the way). */
  #folderOf(ref: ObjectRef): string[] {
    if (ref.type === "config") return [...ref.repo];
    if (ref.type === "data") return [...ref.repo, "data", ref.name.slice(0, 2)];
    return [...ref.repo, ref.type];
  }

  #repoDir(repo: RepoPath): string {
    return join(this.#root, ...repo);
  }

  #path(ref: ObjectRef): string {
    const repoDir = this.#repoDir(ref.repo);
    if (ref.type === "config") return join(repoDir, "config");
    if (ref.type === "data") return join(repoDir, "data", ref.name.slice(0, 2), ref.name);
    return join(repoDir, ref.type, ref.name);
  }

  /** Creates the data folder. */
  async prepare(): Promise<string[]> {
    await prepareDataFolder(this.#root, this.#dirMode);
    return [];
  }

  /** Reports every stored object (for usage and metrics), removing leftover temp files on the way. */
  scan(onObject: (found: FoundObject) => void, options: ScanOptions = {}): Promise<CleanupReport> {
    return walkRepositories(this.#root, {
      onObject,
      onRepo: options.onRepo,
      live: this.#uploads,
      signal: options.signal,
    });
  }

  /** A repository exists where its `data` folder or its config is, and no removal is under way. */
  // deno-lint-ignore require-await -- async by the interface; an lstat answers synchronously here
  async repoExists(repo: RepoPath): Promise<boolean> {
    this.#folders.check(repo);
    const dir = this.#repoDir(repo);
    if (removalPending(dir)) return false;
    return existsSync(join(dir, "data")) || existsSync(join(dir, "config"));
  }

  /** Removes a repository (see `fs_remove.ts`); nested repositories stay. */
  async removeRepo(repo: RepoPath): Promise<boolean> {
    try {
      this.#folders.check(repo);
      return await removeRepository(this.#repoDir(repo), {
        fileMode: this.#fileMode,
        isRoot: repo.length === 0,
      });
    } catch (err) {
      throw toStorageError(err, "remove repository");
    } finally {
      this.#folders.forget();
    }
  }

  /** Finishes a removal cut short at this repository, before something new is stored there. */
  async #finishRemoval(repo: RepoPath): Promise<void> {
    if (removalPending(this.#repoDir(repo))) await this.removeRepo(repo);
  }

  /** Creates the repository folder, its type folders and `data/00`…`data/ff`. */
  async createRepo(repo: RepoPath): Promise<void> {
    await this.#finishRemoval(repo);
    const repoDir = this.#repoDir(repo);
    try {
      this.#folders.check(repo);
      const folders = [
        repoDir,
        ...OBJECT_TYPES.map((type) => join(repoDir, type)),
        ...dataSubfolders().map((sub) => join(repoDir, "data", sub)),
      ];
      for (const folder of folders.slice(0, OBJECT_TYPES.length + 1)) {
        await ensureDir(folder, this.#dirMode);
      }
      await Promise.all(
        folders.slice(OBJECT_TYPES.length + 1).map((f) => ensureDir(f, this.#dirMode)),
      );
      if (this.#exactModes) await Promise.all(folders.map((f) => Deno.chmod(f, this.#dirMode)));
    } catch (err) {
      throw toStorageError(err, "create repository");
    }
  }

  /** Opens an object for reading; the open file keeps its bytes even if it is deleted meanwhile. */
  // deno-lint-ignore require-await -- async by the interface; cached metadata answers synchronously here
  async open(ref: ObjectRef): Promise<OpenedObject> {
    let file: Deno.FsFile;
    let found: Deno.FileInfo | null;
    try {
      this.#folders.check(this.#folderOf(ref));
      const path = this.#path(ref);
      found = regularFileToRead(path);
      file = Deno.openSync(path, { read: true });
    } catch (err) {
      throw toStorageError(err, "open object");
    }
    try {
      const info = file.statSync();
      // The same file as looked at: not one swapped in for a link meanwhile.
      if (!info.isFile || info.ino !== found.ino || info.dev !== found.dev) {
        throw new StorageError("NotFound", "open object: not a regular file");
      }
      return {
        size: info.size,
        body: (start, end, options) =>
          Promise.resolve(fileBody(file, start, end, info.size, options?.cutAtLength)),
        close: () => file.close(),
      };
    } catch (err) {
      file.close();
      throw toStorageError(err, "open object");
    }
  }

  /** The size of an object. */
  // deno-lint-ignore require-await -- async by the interface; cached metadata answers synchronously here
  async stat(ref: ObjectRef): Promise<number> {
    try {
      this.#folders.check(this.#folderOf(ref));
      return regularFileToRead(this.#path(ref)).size;
    } catch (err) {
      throw toStorageError(err, "stat object");
    }
  }

  /** Who stored a lock (see `fs_owners.ts`). */
  // deno-lint-ignore require-await -- async by the interface; two small synchronous reads here
  async lockOwner(ref: LockRef): Promise<string | null> {
    try {
      this.#folders.check(this.#folderOf(ref));
      const path = this.#path(ref);
      regularFileToRead(path);
      return readOwner(path);
    } catch (err) {
      throw toStorageError(err, "read the owner of a lock");
    }
  }

  /**
   * Stores an object as docs/protocol.md §7 says: temp file, hash, fsync,
   * move into place without replacing anything, fsync of the folder.
   */
  async save(ref: ObjectRef, body: UploadBody, options: SaveOptions): Promise<SaveResult> {
    const name = ref.type === "config" ? "config" : ref.name;
    const verify = options.verifyHash && ref.type !== "config";
    const final = this.#path(ref);
    options.signal?.throwIfAborted();
    try {
      this.#folders.check(this.#folderOf(ref));
      // A link or a folder under the name is not an object, and is never replaced.
      if (existsSync(final) && regularFile(final)) {
        return await confirmExisting(ref, body, options);
      }
    } catch (err) {
      throw toStorageError(err, `save ${ref.type}`);
    }
    if (ref.type === "config") await this.#finishRemoval(ref.repo);

    try {
      return await writeUpload(
        {
          final,
          name,
          verify,
          owner: ref.type === "locks" ? options.owner ?? null : null,
          fileMode: this.#fileMode,
          dirMode: this.#dirMode,
          exactModes: this.#exactModes,
          live: this.#uploads,
        },
        body,
        options,
      );
    } catch (err) {
      throw toStorageError(err, `save ${ref.type}`);
    }
  }

  /** Deletes an object; a missing one is fine. */
  async remove(ref: ObjectRef): Promise<RemoveResult> {
    const path = this.#path(ref);
    try {
      this.#folders.check(this.#folderOf(ref));
      const { size } = Deno.lstatSync(path);
      // No folder fsync (as rest-server): a delete lost in a crash only brings
      // an object back, and journaling file systems keep the order of unlinks.
      await Deno.remove(path);
      if (ref.type === "locks") removeOwner(path);
      return { existed: true, size };
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return { existed: false, size: null };
      throw toStorageError(err, `delete ${ref.type}`);
    }
  }

  /** Lists one type folder: valid names only, `data` through its subfolders. */
  async list(
    repo: RepoPath,
    type: ObjectType,
    withSizes: boolean,
    options: ListOptions = {},
  ): Promise<AsyncIterable<ListPage>> {
    const typeDir = join(this.#repoDir(repo), type);
    try {
      this.#folders.check([...repo, type]);
      if (removalPending(this.#repoDir(repo))) {
        throw new StorageError("NotFound", "list: the repository is being removed");
      }
      const info = await Deno.lstat(typeDir);
      if (!info.isDirectory) throw new StorageError("NotFound", "list: not a folder");
    } catch (err) {
      throw toStorageError(err, `list ${type}`);
    }
    const folders = type === "data" ? subfolders(typeDir) : [typeDir];
    return listPages(folders, { withSizes, withTimes: options.withTimes }, options.signal);
  }

  /** Whether the data folder takes writes (see `fs_health.ts`). */
  health(): Promise<Health> {
    return this.#health.check();
  }

  /** Removes the temp files of uploads still in progress (at shutdown). */
  // deno-lint-ignore require-await -- async by the interface; unlinks answer synchronously here
  async abortUploads(): Promise<void> {
    for (const temp of this.#uploads) {
      try {
        Deno.removeSync(temp);
      } catch {
        // already gone
      }
    }
    this.#uploads.clear();
  }
}

/** The regular file at `path`, which must be there. */
function regularFileToRead(path: string): Deno.FileInfo {
  const info = regularFile(path);
  if (info === null) throw new StorageError("NotFound", `${path}: not found`);
  return info;
}
