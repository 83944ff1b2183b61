/**
 * The storage interface the handlers speak to. Handlers never touch files;
 * a storage turns REST operations into reads and writes on some medium.
 *
 * @module
 */

import type { RepoPath } from "../repo_path.ts";
import type { ObjectType } from "../restic.ts";

/** One stored object: the config, or a typed object with its hash name. */
export type ObjectRef =
  | { repo: RepoPath; type: "config" }
  | { repo: RepoPath; type: ObjectType; name: string };

/** One entry of a listing. `size` is `-1` when sizes were not asked for. */
export interface ObjectInfo {
  name: string;
  size: number;
}

/** An object opened for reading: its size, and a way to stream a slice. */
export interface OpenedObject {
  readonly size: number;
  /** Streams bytes `start`..`end` inclusive; the object is closed when the stream ends. */
  stream(start: number, end: number): ReadableStream<Uint8Array>;
  /** Closes the object without streaming it. */
  close(): void;
}

/** How an upload is checked while it is stored. */
export interface SaveOptions {
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
}

/** What a save did: `created` false means an identical object was there already. */
export interface SaveResult {
  created: boolean;
  /** The object's size in bytes. */
  size: number;
}

/** Why a storage operation failed; mapped to a status in one place (`http_error.ts`). */
export type StorageErrorCode =
  | "NotFound"
  | "AlreadyExists"
  | "HashMismatch"
  | "IncompleteBody"
  | "Timeout"
  | "NoSpace"
  | "QuotaExceeded"
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

/** What start-up recovery found. */
export interface RecoveryReport {
  removedTempFiles: number;
}

/** One stored object, as start-up recovery finds it. */
export interface FoundObject {
  ref: ObjectRef;
  size: number;
  /** Last modification, epoch milliseconds. */
  mtimeMs: number;
}

/** Where restic's repositories live. */
export interface Storage {
  /**
   * Removes leftovers of earlier crashes and reports every stored object to
   * `onObject`; called once before serving.
   */
  recover(onObject?: (found: FoundObject) => void): Promise<RecoveryReport>;
  /** Creates the repository folders; idempotent. */
  createRepo(repo: RepoPath): Promise<void>;
  /** Opens an object for reading. Throws `NotFound`. */
  open(ref: ObjectRef): Promise<OpenedObject>;
  /** The size of an object. Throws `NotFound`. */
  stat(ref: ObjectRef): Promise<number>;
  /** Stores an object durably, or confirms an identical one. See SPEC section 7. */
  save(
    ref: ObjectRef,
    body: ReadableStream<Uint8Array> | null,
    options: SaveOptions,
  ): Promise<SaveResult>;
  /** Deletes an object; succeeds when it is missing. Returns its size, or `null` if it was not there. */
  remove(ref: ObjectRef): Promise<number | null>;
  /**
   * Lists the valid object names of one type. Throws `NotFound` (before any
   * entry) when the type folder is missing.
   */
  list(repo: RepoPath, type: ObjectType, withSizes: boolean): Promise<AsyncIterable<ObjectInfo>>;
  /** Removes the temp files of uploads still running; called at shutdown. */
  abortUploads(): void;
  /** Tells whether a file can be created in the data directory right now. */
  checkWritable(): Promise<boolean>;
}
