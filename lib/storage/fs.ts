/**
 * Storage on the local file system, laid out exactly as rest-server does:
 * `<root>/<repo…>/{config,data/xx/<name>,index/<name>,…}`. Every write goes
 * through a temp file that is hashed, fsynced and then linked into place.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, ensureDir, existsSync, join, syncDir } from "../fs_util.ts";
import { toStorageError } from "./fs_errors.ts";
import { listObjects, subfolders } from "./fs_list.ts";
import { fileStream } from "./fs_read.ts";
import { checkBody, DurableFile, publish, randomSuffix, receiveBody } from "./fs_upload.ts";
import { isValidRepoSegment, type RepoPath } from "../repo_path.ts";
import {
  dataSubfolders,
  isObjectName,
  isObjectType,
  MAX_REPO_DEPTH,
  OBJECT_TYPES,
  type ObjectType,
  TEMP_FILE_PREFIX,
} from "../restic.ts";
import {
  type FoundObject,
  type ObjectInfo,
  type ObjectRef,
  type OpenedObject,
  type RecoveryReport,
  type SaveOptions,
  type SaveResult,
  type Storage,
  StorageError,
} from "./types.ts";

/** Options of {@link FsStorage}. */
export interface FsStorageOptions {
  /** Folders 0770 and files 0660 instead of 0700 and 0600. */
  groupAccessible?: boolean;
}

/** How many `stat` calls start-up recovery makes at once. */
const RECOVERY_STAT_BATCH = 128;

export { toStorageError } from "./fs_errors.ts";

/** Storage in a folder of the local file system. */
export class FsStorage implements Storage {
  readonly #root: string;
  readonly #fileMode: number;
  readonly #dirMode: number;
  /** Set modes explicitly, whatever the umask (only for group access). */
  readonly #exactModes: boolean;
  /** Temp files of uploads in progress, removed if the server stops mid-upload. */
  readonly #uploads = new Set<string>();

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

  /**
   * Removes temp files that a crash left behind, anywhere below the root,
   * and reports every stored object (for usage and metrics).
   */
  async recover(onObject: (found: FoundObject) => void = () => {}): Promise<RecoveryReport> {
    await ensureDir(this.#root, this.#dirMode);
    let removedTempFiles = 0;
    const removeTemp = async (path: string): Promise<void> => {
      await Deno.remove(path).catch(() => {});
      removedTempFiles++;
    };
    const report = async (folder: string, names: string[], ref: (name: string) => ObjectRef) => {
      const infos = await Promise.all(
        names.map((n) => Deno.stat(join(folder, n)).catch(() => null)),
      );
      infos.forEach((info, i) => {
        if (info?.isFile) {
          onObject({ ref: ref(names[i]), size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 });
        }
      });
    };
    const scanObjects = async (folder: string, repo: string[], type: ObjectType): Promise<void> => {
      let names: string[] = [];
      for await (const entry of Deno.readDir(folder)) {
        const path = join(folder, entry.name);
        if (entry.name.startsWith(TEMP_FILE_PREFIX)) await removeTemp(path);
        else if (entry.isDirectory && type === "data") await scanObjects(path, repo, type);
        else if (entry.isFile && isObjectName(entry.name)) names.push(entry.name);
        if (names.length >= RECOVERY_STAT_BATCH) {
          await report(folder, names, (name) => ({ repo, type, name }));
          names = [];
        }
      }
      await report(folder, names, (name) => ({ repo, type, name }));
    };
    const visit = async (dir: string, repo: string[]): Promise<void> => {
      for await (const entry of Deno.readDir(dir)) {
        const path = join(dir, entry.name);
        if (entry.name.startsWith(TEMP_FILE_PREFIX)) await removeTemp(path);
        else if (entry.isFile && entry.name === "config") {
          await report(dir, ["config"], () => ({ repo, type: "config" }));
        } else if (entry.isDirectory && isObjectType(entry.name)) {
          await scanObjects(path, repo, entry.name);
        } else if (
          entry.isDirectory && isValidRepoSegment(entry.name) && repo.length < MAX_REPO_DEPTH
        ) {
          await visit(path, [...repo, entry.name]);
        }
      }
    };
    await visit(this.#root, []);
    return { removedTempFiles };
  }

  /** Creates the repository folder, its type folders and `data/00`…`data/ff`. */
  async createRepo(repo: RepoPath): Promise<void> {
    const repoDir = this.#repoDir(repo);
    try {
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
    try {
      file = Deno.openSync(this.#path(ref), { read: true });
    } catch (err) {
      throw toStorageError(err, "open object");
    }
    try {
      const info = file.statSync();
      if (!info.isFile) throw new StorageError("NotFound", "open object: not a file");
      return {
        size: info.size,
        stream: (start, end) => fileStream(file, start, end, info.size),
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
      const info = Deno.statSync(this.#path(ref));
      if (!info.isFile) throw new StorageError("NotFound", "stat object: not a file");
      return info.size;
    } catch (err) {
      throw toStorageError(err, "stat object");
    }
  }

  /** Stores an object as SPEC section 7 says: temp file, hash, fsync, link, fsync folder. */
  async save(
    ref: ObjectRef,
    body: ReadableStream<Uint8Array> | null,
    options: SaveOptions,
  ): Promise<SaveResult> {
    const name = ref.type === "config" ? "config" : ref.name;
    const verify = options.verifyHash && ref.type !== "config";
    const final = this.#path(ref);
    const dir = dirname(final);
    if (existsSync(final)) return await this.#confirmExisting(ref, body, options);

    let file: DurableFile | null = null;
    const temp = join(dir, `${TEMP_FILE_PREFIX}${name}-${randomSuffix()}`);
    try {
      file = new DurableFile(await this.#createTemp(temp, dir));
      this.#uploads.add(temp);
      if (this.#exactModes) await Deno.chmod(temp, this.#fileMode);
      const hash = verify ? createHash("sha256") : null;
      const received = await receiveBody(
        body,
        file,
        hash,
        options.onReceive,
        options.idleTimeoutMs,
      );
      checkBody(received, options, hash, name);
      await file.sync();
      file.file.close();
      file = null;
      const created = publish(temp, final);
      if (!created && !verify) {
        throw new StorageError("AlreadyExists", "stored meanwhile by another upload");
      }
      if (created) this.#uploads.delete(temp); // the temp name is gone; nothing to clean up
      await syncDir(dir);
      return { created, size: received };
    } catch (err) {
      throw toStorageError(err, `save ${ref.type}`);
    } finally {
      if (file) {
        await file.settle();
        file.file.close();
      }
      if (this.#uploads.delete(temp)) await Deno.remove(temp).catch(() => {});
    }
  }

  /** Creates an upload's temp file, and its folder only when that is missing. */
  async #createTemp(temp: string, dir: string): Promise<Deno.FsFile> {
    const options = { write: true, createNew: true, mode: this.#fileMode };
    try {
      return await Deno.open(temp, options);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      await ensureDir(dir, this.#dirMode);
      return await Deno.open(temp, options);
    }
  }

  /**
   * An upload of an object that exists: with verification on, hash the body
   * without storing it and accept it when it matches (a retried upload whose
   * first answer was lost); otherwise refuse to overwrite.
   */
  async #confirmExisting(
    ref: ObjectRef,
    body: ReadableStream<Uint8Array> | null,
    options: SaveOptions,
  ): Promise<SaveResult> {
    if (ref.type === "config" || !options.verifyHash) {
      await body?.cancel().catch(() => {});
      throw new StorageError("AlreadyExists", `${ref.type} exists and is never overwritten`);
    }
    const hash = createHash("sha256");
    const received = await receiveBody(body, null, hash, undefined, options.idleTimeoutMs);
    checkBody(received, options, hash, ref.name);
    return { created: false, size: received };
  }

  /** Deletes an object; a missing one is fine. Returns its size, or `null` if it was not there. */
  // deno-lint-ignore require-await -- async by the interface; an unlink answers synchronously here
  async remove(ref: ObjectRef): Promise<number | null> {
    const path = this.#path(ref);
    try {
      const { size } = Deno.lstatSync(path);
      // No folder fsync (as rest-server): a delete lost in a crash only brings
      // an object back, and journaling file systems keep the order of unlinks.
      Deno.removeSync(path);
      return size;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null; // missing, or deleted meanwhile
      throw toStorageError(err, `delete ${ref.type}`);
    }
  }

  /** Lists one type folder: valid names only, `data` through its subfolders. */
  async list(
    repo: RepoPath,
    type: ObjectType,
    withSizes: boolean,
  ): Promise<AsyncIterable<ObjectInfo>> {
    const typeDir = join(this.#repoDir(repo), type);
    try {
      const info = await Deno.stat(typeDir);
      if (!info.isDirectory) throw new StorageError("NotFound", "list: not a folder");
    } catch (err) {
      throw toStorageError(err, `list ${type}`);
    }
    const folders = type === "data" ? subfolders(typeDir) : [typeDir];
    return listObjects(folders, withSizes);
  }

  /** Creates and removes a small file in the data directory. */
  async checkWritable(): Promise<boolean> {
    const probe = join(this.#root, `${TEMP_FILE_PREFIX}health-${randomSuffix()}`);
    try {
      const file = await Deno.open(probe, { write: true, createNew: true, mode: this.#fileMode });
      try {
        await file.write(new Uint8Array([0x0a]));
      } finally {
        file.close();
      }
      await Deno.remove(probe);
      return true;
    } catch {
      await Deno.remove(probe).catch(() => {});
      return false;
    }
  }

  /** Removes the temp files of uploads still in progress (at shutdown). */
  abortUploads(): void {
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
