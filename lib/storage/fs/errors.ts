/**
 * File-system errors in protocol terms, shared by the file storage modules.
 *
 * @module
 */

import { errorCode } from "../../base/fs_util.ts";
import { StorageError } from "../types.ts";

/** Errors of a mounted network file system (NFS, SMB) whose server is away. */
const UNREACHABLE_CODES = new Set(["ENOTCONN", "ESTALE", "EHOSTDOWN", "EHOSTUNREACH", "ETIMEDOUT"]);

/**
 * Turns an error of a file operation into a {@link StorageError}: missing is
 * `NotFound`, a full disk or quota `NoSpace`, a network file system that is
 * gone `Unavailable` (503: restic retries), anything else `Io` (500).
 *
 * @param err What the file operation threw.
 * @param action What was being done, for the log.
 * @returns The storage error.
 */
export function toStorageError(err: unknown, action: string): StorageError {
  if (err instanceof StorageError) return err;
  if (err instanceof Deno.errors.NotFound) {
    return new StorageError("NotFound", `${action}: not found`);
  }
  const code = errorCode(err);
  if (
    code === "EROFS" || (isWrite(action) && (code === "EACCES" || code === "EPERM" ||
      err instanceof Deno.errors.PermissionDenied))
  ) {
    const why = code === "EROFS" ? "the data folder is read-only" : "no permission to write there";
    return new StorageError("ReadOnly", `${action}: ${why} (${code ?? "EACCES"})`, { cause: err });
  }
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new StorageError("NoSpace", `${action}: no space left (${code})`, { cause: err });
  }
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return new StorageError("Unavailable", `${action}: storage unreachable (${code})`, {
      cause: err,
    });
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new StorageError("Io", `${action}: ${reason}`, { cause: err });
}

/** Whether an action (as named for the log) writes: its refusal by the file system is 507. */
function isWrite(action: string): boolean {
  return /^(save|create|delete|remove|write)/.test(action);
}
