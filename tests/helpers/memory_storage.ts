/**
 * A small storage in memory, for tests: it keeps the storage contract of
 * `lib/storage/types.ts` with nothing but a map, so tests that pass on it
 * show that the handlers depend on the contract and not on files. Objects
 * are keyed by restic's layout (`a/b/config`, `a/b/data/ab/ID`, `keys/ID`).
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { RepoPath } from "../../lib/base/repo_path.ts";
import {
  isObjectName,
  isObjectType,
  OBJECT_TYPES,
  type ObjectType,
} from "../../lib/base/restic.ts";
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
} from "../../lib/storage/types.ts";

/** The key prefix of a repository: `""` for the root, `a/b/` below. */
function prefixOf(repo: RepoPath): string {
  return repo.map((segment) => `${segment}/`).join("");
}

/** The key of an object in restic's layout. */
export function keyOf(ref: ObjectRef): string {
  const prefix = prefixOf(ref.repo);
  if (ref.type === "config") return `${prefix}config`;
  if (ref.type === "data") return `${prefix}data/${ref.name.slice(0, 2)}/${ref.name}`;
  return `${prefix}${ref.type}/${ref.name}`;
}

/** Reads a whole body, failing like a real storage when the client goes quiet or short. */
async function readBody(body: UploadBody, options: SaveOptions): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (body instanceof Uint8Array) {
    chunks.push(body);
    total = body.length;
    options.onReceive?.(total);
  } else if (body) {
    try {
      for await (const chunk of body) {
        chunks.push(chunk);
        total += chunk.length;
        options.onReceive?.(total);
      }
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw new StorageError("IncompleteBody", "the client stopped sending the body", {
        cause: err,
      });
    }
  }
  if (options.contentLength !== null && total !== options.contentLength) {
    throw new StorageError("IncompleteBody", `received ${total} of ${options.contentLength}`);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** Storage in a map. */
export class MemoryStorage implements Storage {
  readonly repoFootprintBytes = 0;
  /** Stored bytes by key, with their write time. */
  readonly objects = new Map<string, { bytes: Uint8Array; mtimeMs: number }>();
  /** Prefixes of the repositories created. */
  readonly created = new Set<string>();
  /** Who stored each lock, by key. */
  readonly owners = new Map<string, string>();

  prepare(): Promise<string[]> {
    return Promise.resolve([]);
  }

  scan(onObject: (found: FoundObject) => void, options: ScanOptions = {}): Promise<CleanupReport> {
    for (const [key, { bytes, mtimeMs }] of this.objects) {
      const ref = refOf(key);
      if (ref) onObject({ ref, size: bytes.length, mtimeMs });
      if (ref?.type === "config") options.onRepo?.(ref.repo);
    }
    for (const prefix of this.created) options.onRepo?.(prefix.split("/").slice(0, -1));
    return Promise.resolve({ removedTempFiles: 0 });
  }

  repoExists(repo: RepoPath): Promise<boolean> {
    const prefix = prefixOf(repo);
    return Promise.resolve(this.created.has(prefix) || this.objects.has(`${prefix}config`));
  }

  createRepo(repo: RepoPath): Promise<void> {
    this.created.add(prefixOf(repo));
    return Promise.resolve();
  }

  async removeRepo(repo: RepoPath): Promise<boolean> {
    const prefix = prefixOf(repo);
    const existed = await this.repoExists(repo);
    this.objects.delete(`${prefix}config`); // the config first, as on every medium
    for (const key of [...this.objects.keys()]) {
      const rest = key.slice(prefix.length);
      if (key.startsWith(prefix) && OBJECT_TYPES.some((type) => rest.startsWith(`${type}/`))) {
        this.objects.delete(key);
      }
    }
    this.created.delete(prefix);
    return existed;
  }

  open(ref: ObjectRef): Promise<OpenedObject> {
    const stored = this.#get(ref);
    return Promise.resolve({
      size: stored.length,
      body: (start, end) => Promise.resolve(stored.slice(start, end + 1)),
      close: () => {},
    });
  }

  stat(ref: ObjectRef): Promise<number> {
    return Promise.resolve(this.#get(ref).length);
  }

  async save(ref: ObjectRef, body: UploadBody, options: SaveOptions): Promise<SaveResult> {
    const key = keyOf(ref);
    const verify = options.verifyHash && ref.type !== "config";
    if (this.objects.has(key) && !verify) {
      if (body instanceof ReadableStream) await body.cancel().catch(() => {});
      throw new StorageError("AlreadyExists", `${key} exists and is never overwritten`);
    }
    const bytes = await readBody(body, options);
    if (verify && createHash("sha256").update(bytes).digest("hex") !== ref.name) {
      throw new StorageError("HashMismatch", `the body of ${key} hashes to another name`);
    }
    if (this.objects.has(key)) return { created: false, size: bytes.length };
    if (ref.type === "locks" && options.owner) this.owners.set(key, options.owner);
    this.objects.set(key, { bytes, mtimeMs: Date.now() });
    return { created: true, size: bytes.length };
  }

  remove(ref: ObjectRef): Promise<RemoveResult> {
    const stored = this.objects.get(keyOf(ref));
    this.objects.delete(keyOf(ref));
    this.owners.delete(keyOf(ref));
    return Promise.resolve(
      stored ? { existed: true, size: stored.bytes.length } : { existed: false, size: null },
    );
  }

  lockOwner(ref: LockRef): Promise<string | null> {
    this.#get(ref);
    return Promise.resolve(this.owners.get(keyOf(ref)) ?? null);
  }

  async list(
    repo: RepoPath,
    type: ObjectType,
    withSizes: boolean,
    options: ListOptions = {},
  ): Promise<AsyncIterable<ListPage>> {
    if (!(await this.repoExists(repo))) {
      throw new StorageError("NotFound", `no repository at /${prefixOf(repo)}`);
    }
    const folder = `${prefixOf(repo)}${type}/`;
    const page: ListPage = {
      names: [],
      sizes: withSizes ? [] : null,
      mtimes: options.withTimes ? [] : undefined,
    };
    for (const [key, { bytes, mtimeMs }] of this.objects) {
      if (!key.startsWith(folder)) continue;
      const parts = key.slice(folder.length).split("/");
      // data keeps its objects one subfolder down; the other types are flat.
      const fanned = type === "data" && parts.length === 2 && !parts[0].startsWith(".");
      const name = fanned || (type !== "data" && parts.length === 1) ? parts.at(-1)! : "";
      if (!isObjectName(name)) continue;
      page.names.push(name);
      page.sizes?.push(bytes.length);
      page.mtimes?.push(mtimeMs);
    }
    return (async function* () {
      yield page;
    })();
  }

  abortUploads(): Promise<void> {
    return Promise.resolve();
  }

  health(): Promise<Health> {
    return Promise.resolve({ ok: true, detail: "in memory" });
  }

  #get(ref: ObjectRef): Uint8Array {
    const stored = this.objects.get(keyOf(ref));
    if (!stored) throw new StorageError("NotFound", `${keyOf(ref)}: not found`);
    return stored.bytes;
  }
}

/** The object a key names, when it is one restic would read. */
function refOf(key: string): ObjectRef | null {
  const parts = key.split("/");
  const last = parts.pop()!;
  if (last === "config") return { repo: parts, type: "config" };
  if (!isObjectName(last)) return null;
  if (parts.at(-2) === "data") return { repo: parts.slice(0, -2), type: "data", name: last };
  const type = parts.pop();
  return type !== undefined && isObjectType(type) ? { repo: parts, type, name: last } : null;
}
