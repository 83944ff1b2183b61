/**
 * The few file-system helpers the storage needs, written on Deno built-ins.
 * Shaped like `@std/fs` (`exists`, `ensureDir`) and `@std/path` (`join`), so
 * those can replace this file when JSR is reachable.
 *
 * @module
 */

export { dirname, join } from "node:path";

/**
 * Tells whether a path exists (without following a final symlink's target).
 *
 * @param path The path to test.
 * @returns `true` when something is there.
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * Creates a folder and its parents when missing.
 *
 * @param path The folder.
 * @param mode Permission bits for folders it creates.
 */
export async function ensureDir(path: string, mode: number): Promise<void> {
  await Deno.mkdir(path, { recursive: true, mode });
}

/**
 * Flushes a folder's entries (a rename or unlink in it) to disk. A no-op on
 * Windows, where folders cannot be opened for fsync.
 *
 * @param path The folder.
 */
export async function syncDir(path: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  using dir = await Deno.open(path, { read: true });
  await dir.sync();
}

/**
 * The errno-style code of an error raised by a Deno file operation.
 *
 * @param err Anything thrown.
 * @returns The code such as `ENOSPC`, or `undefined`.
 */
export function errorCode(err: unknown): string | undefined {
  if (err && typeof err === "object" && "code" in err && typeof err.code === "string") {
    return err.code;
  }
  return undefined;
}
