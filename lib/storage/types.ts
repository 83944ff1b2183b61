/**
 * The storage contract the handlers speak to. Handlers never touch files;
 * a storage turns REST operations into reads and writes on some medium: a
 * folder on a disk, a bucket in an object store, memory in tests.
 *
 * The contract is medium-neutral:
 * - A repository exists from the moment `createRepo` ran for it, or once its
 *   config is stored, until it is removed. How a medium remembers the
 *   creation (folders on a disk, a record in memory) is its own business.
 * - Removing a repository takes its config first, so restic sees no
 *   repository from then on; a removal cut short (a crash) is finished by
 *   the next `cleanup`, `createRepo`, config save or `removeRepo` there, and
 *   meanwhile lists as no repository.
 * - Every call takes an optional `AbortSignal`, aborted when the client goes
 *   away; a storage stops work it no longer needs to do.
 * - Failures are {@link StorageError}s with a code in protocol terms; a
 *   medium that cannot be reached right now is `Unavailable` (503 with
 *   `Retry-After`, which restic retries), never `NotFound`.
 *
 * @module
 */

import type { RepoPath } from "../base/repo_path.ts";
import type { ObjectType } from "../base/restic.ts";

/** One stored object: the config, or a typed object with its hash name. */
export type ObjectRef =
  | { repo: RepoPath; type: "config" }
  | { repo: RepoPath; type: ObjectType; name: string };

/** A lock object. */
export type LockRef = { repo: RepoPath; type: "locks"; name: string };

/**
 * One page of a listing, column by column (no object per entry: a listing
 * can hold a million names): valid object names, and their sizes and
 * modification times (epoch ms) when asked for.
 */
export interface ListPage {
  names: string[];
  /** `sizes[i]` belongs to `names[i]`; `null` when sizes were not asked for. */
  sizes: number[] | null;
  /** Modification times, only with `withTimes`. */
  mtimes?: number[];
}

/** How a slice of an object is to be read. */
export interface BodyOptions {
  /**
   * The receiver sends exactly `end - start + 1` bytes and drops the rest,
   * as an HTTP/1.1 response with a Content-Length does: the body may then be
   * a stream that runs on past `end`.
   */
  cutAtLength?: boolean;
}

/** An object opened for reading: its size, and a way to read a slice. */
export interface OpenedObject {
  readonly size: number;
  /**
   * Bytes `start`..`end` inclusive (`end = start - 1` for none): read whole
   * when that is cheaper, streamed otherwise; the object is closed when they
   * have been read. Settles once the medium has begun to answer, so a
   * failure here still becomes the response's status.
   */
  body(
    start: number,
    end: number,
    options?: BodyOptions,
  ): Promise<Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>>;
  /** Closes the object without reading it. */
  close(): void;
}

/** Options every call takes. */
export interface CallOptions {
  /** Aborted when the client went away: the work is no longer needed. */
  signal?: AbortSignal;
}

/** What a scan reports besides objects. */
export interface ScanOptions extends CallOptions {
  /** Called once with each repository found (created, or holding a config). */
  onRepo?: (repo: RepoPath) => void;
}

/** What a listing reports besides names and sizes. */
export interface ListOptions extends CallOptions {
  /** Report each object's modification time too (`mtimes`). */
  withTimes?: boolean;
}

/** How an upload is checked while it is stored. */
export interface SaveOptions extends CallOptions {
  /** Compare the SHA-256 of the body with the object name (never for config). */
  verifyHash: boolean;
  /** The announced body length, or `null` for a chunked upload. */
  contentLength: number | null;
  /**
   * Called with the running total as the body streams in; throws a
   * `QuotaExceeded` error to stop the upload (see `quota.ts`).
   */
  onReceive?: (totalBytes: number) => void;
  /** Fail with `Timeout` when no byte arrives for this long (ms); none when absent. */
  idleTimeoutMs?: number;
  /**
   * The user storing it. A medium records it with a new lock (see
   * `Storage.lockOwner`), durably, before the lock is visible.
   */
  owner?: string | null;
}

/** An upload's body: streamed, or whole when it is small; `null` when empty. */
export type UploadBody = ReadableStream<Uint8Array> | Uint8Array | null;

/** What a save did: `created` false means an identical object was there already. */
export interface SaveResult {
  created: boolean;
  /** The object's size in bytes. */
  size: number;
}

/**
 * What a delete did. `existed` is `null` and `size` is `null` where the
 * medium cannot tell without another request (an object store's DELETE
 * answers the same for a missing key).
 */
export interface RemoveResult {
  existed: boolean | null;
  /** The bytes freed, when known. */
  size: number | null;
}

/** Why a storage operation failed; mapped to a status in one place (`http_error.ts`). */
export type StorageErrorCode =
  | "NotFound"
  | "AlreadyExists"
  | "HashMismatch"
  | "IncompleteBody"
  | "Timeout"
  | "NoSpace"
  | "ReadOnly"
  | "QuotaExceeded"
  | "Unavailable"
  | "Io";

/** A failed storage operation. The message is for logs, never for clients. */
export class StorageError extends Error {
  /**
   * @param code What went wrong, in protocol terms.
   * @param message Why, for the log.
   * @param options The underlying error, if any.
   */
  constructor(readonly code: StorageErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StorageError";
  }
}

/** What the start-up walk removed and finished. */
export interface CleanupReport {
  /** Unfinished uploads (temp files, incomplete multipart uploads) removed. */
  removedTempFiles: number;
  /** Repository removals cut short (by a crash) and finished now. */
  finishedRemovals?: number;
}

/** One stored object, as a scan finds it. */
export interface FoundObject {
  ref: ObjectRef;
  size: number;
  /** Last modification, epoch milliseconds. */
  mtimeMs: number;
}

/** Whether the medium can take writes right now, and why not. */
export interface Health {
  ok: boolean;
  /** A short reason, for `/healthz` and the log; never a credential. */
  detail: string;
  /** Bytes the medium can still take, where it has a bound it knows (a disk). */
  freeBytes?: number;
}

/**
 * Small records every server on one location can read and each writes its
 * own of: how servers sharing a bucket tell each other what they stored
 * (see `shared_view.ts`). Names are plain (`journal-ab12`); the medium keeps
 * them apart from repositories, where restic never looks.
 */
export interface SharedNotes {
  /** Every note's name with a tag that changes when the note does (an ETag). */
  list(signal?: AbortSignal): Promise<{ name: string; tag: string }[]>;
  /** A note's text, or `null` when it is gone. */
  read(name: string, signal?: AbortSignal): Promise<string | null>;
  /** Writes a note whole (one request: readers see the old or the new). */
  write(name: string, text: string, signal?: AbortSignal): Promise<void>;
  /** Removes a note; a missing one is fine. */
  remove(name: string, signal?: AbortSignal): Promise<void>;
}

/** Where restic's repositories live. */
export interface Storage {
  /**
   * Notes shared by every server on this location, for a medium that
   * several servers can share (a bucket); absent for a folder, which one
   * process owns.
   */
  readonly notes?: SharedNotes;
  /**
   * Bytes a repository takes on the medium before anything is stored in it
   * (a disk's 261 folders); size limits count it for every repository.
   */
  readonly repoFootprintBytes: number;
  /**
   * Makes the medium ready (creates the data folder; checks that a bucket
   * answers to the credentials). Called once before serving.
   *
   * @returns Lines worth saying at start-up (what the medium was found to do).
   * @throws {ConfigError} When the medium cannot be used as configured: one
   *   line that names it and the fix (the server refuses to start).
   */
  prepare(): Promise<string[]>;
  /**
   * Walks everything stored once, after `prepare`, while the server already
   * answers: reports every object (and, with `onRepo`, every repository) for
   * the inventory, removes what interrupted writes left behind (temp files,
   * owner files without their lock) and finishes repository removals cut
   * short. Leftovers are never visible, so serving need not wait for it.
   */
  scan(onObject: (found: FoundObject) => void, options?: ScanOptions): Promise<CleanupReport>;
  /** Tells whether a repository exists (see the module's rule). */
  repoExists(repo: RepoPath, options?: CallOptions): Promise<boolean>;
  /** Creates a repository; idempotent. Finishes a removal cut short there first. */
  createRepo(repo: RepoPath, options?: CallOptions): Promise<void>;
  /**
   * Removes a repository: its config first, then its objects, leaving the
   * repositories nested below it alone. Settles once nothing of it is left.
   *
   * @returns `false` when there was no repository (nor a removal to finish).
   */
  removeRepo(repo: RepoPath, options?: CallOptions): Promise<boolean>;
  /**
   * Opens an object for reading. Throws `NotFound`. With `whole`, the caller
   * will read all of it: a medium that pays per request may start the read
   * at once instead of asking for the size first.
   */
  open(ref: ObjectRef, options?: CallOptions & { whole?: boolean }): Promise<OpenedObject>;
  /** The size of an object. Throws `NotFound`. */
  stat(ref: ObjectRef, options?: CallOptions): Promise<number>;
  /**
   * Stores an object durably, or confirms an identical one (the protocol's
   * "storing an object"). A small body may come whole, a large one streams.
   */
  save(ref: ObjectRef, body: UploadBody, options: SaveOptions): Promise<SaveResult>;
  /** Deletes an object; succeeds when it is missing. */
  remove(ref: ObjectRef, options?: CallOptions): Promise<RemoveResult>;
  /**
   * Who stored a lock: the `owner` its save was given, or `null` when none
   * was recorded (stored without a user, or by another program). Survives a
   * restart. Throws `NotFound` when there is no such lock.
   */
  lockOwner(ref: LockRef, options?: CallOptions): Promise<string | null>;
  /**
   * Lists the valid object names of one type, in pages as the medium gives
   * them (a folder, a page of a bucket listing): never the whole list at
   * once. Throws `NotFound` (before any page) when the repository does not
   * exist.
   */
  list(
    repo: RepoPath,
    type: ObjectType,
    withSizes: boolean,
    options?: ListOptions,
  ): Promise<AsyncIterable<ListPage>>;
  /** Stops uploads still running and removes what they wrote; called at shutdown. */
  abortUploads(): Promise<void>;
  /** Whether the medium takes writes now; cached, so a flood of probes costs nothing. */
  health(): Promise<Health>;
}
