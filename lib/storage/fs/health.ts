/**
 * The data folder itself: made ready at start-up (or refused in one line),
 * and whether it takes writes, for `/healthz`: the folder is looked up on
 * every call (cheap), a file is written and removed at most every 10 s, so a
 * flood of probes writes one file; the free space is read with it.
 *
 * @module
 */

import { statfs } from "node:fs/promises";
import { ConfigError } from "../../base/errors.ts";
import { ensureDir, join } from "../../base/fs_util.ts";
import { TEMP_FILE_PREFIX } from "../../base/restic.ts";
import { toStorageError } from "./errors.ts";
import { randomSuffix } from "./upload.ts";
import type { Health } from "../types.ts";

/** How long a write probe's answer is reused. */
const HEALTH_CACHE_MS = 10_000;

/** The cached health check of one data folder. */
export class HealthProbe {
  #last: { at: number; answer: Promise<Health> } | null = null;

  /**
   * @param root The data folder.
   * @param fileMode The mode of the probe file.
   */
  constructor(readonly root: string, readonly fileMode: number) {}

  /** The folder's health now, or as probed less than 10 s ago. */
  check(): Promise<Health> {
    try {
      if (!Deno.statSync(this.root).isDirectory) throw new Deno.errors.NotFound("not a folder");
    } catch (err) {
      this.#last = null;
      const detail = toStorageError(err, "look up the data folder").message;
      return Promise.resolve({ ok: false, detail });
    }
    const now = Date.now();
    if (!this.#last || now - this.#last.at >= HEALTH_CACHE_MS) {
      this.#last = { at: now, answer: this.#probe() };
    }
    return this.#last.answer;
  }

  /** The disk's free space, or nothing where it cannot be read (no `--allow-sys=statfs`). */
  async #space(): Promise<{ freeBytes?: number }> {
    try {
      const disk = await statfs(this.root);
      return { freeBytes: Number(disk.bavail) * Number(disk.bsize) };
    } catch {
      return {};
    }
  }

  /** Creates and removes a small file in the data folder. */
  async #probe(): Promise<Health> {
    const probe = join(this.root, `${TEMP_FILE_PREFIX}health-${randomSuffix()}`);
    try {
      const file = await Deno.open(probe, { write: true, createNew: true, mode: this.fileMode });
      try {
        await file.write(new Uint8Array([0x0a]));
      } finally {
        file.close();
      }
      await Deno.remove(probe);
      return { ok: true, detail: "the data folder takes writes", ...await this.#space() };
    } catch (err) {
      await Deno.remove(probe).catch(() => {});
      return { ok: false, detail: toStorageError(err, "write to the data folder").message };
    }
  }
}

/**
 * Makes the data folder (and its parents) when missing.
 *
 * @param root The data folder.
 * @param mode Permission bits of folders made.
 * @throws {ConfigError} When it is not a folder or cannot be made: one line naming it and the fix.
 */
export async function prepareDataFolder(root: string, mode: number): Promise<void> {
  let info: Deno.FileInfo | null = null;
  try {
    info = await Deno.stat(root);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new ConfigError(
        `Cannot use the data folder "${root}": ${reasonOf(err)}; give a folder of your own`,
      );
    }
  }
  if (info && !info.isDirectory) {
    throw new ConfigError(
      `Cannot serve "${root}": it is a file, not a folder; give a folder (made when missing)`,
    );
  }
  if (info) return;
  try {
    await ensureDir(root, mode);
  } catch (err) {
    throw new ConfigError(
      `Cannot create the data folder "${root}": ${reasonOf(err)}; create it, or give another DIR`,
    );
  }
}

/** A file system error as a few words (its code's meaning), never a stack. */
function reasonOf(err: unknown): string {
  if (err instanceof Deno.errors.NotCapable) return "a system folder the runtime keeps closed";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.NotFound) return "a folder above it is missing";
  const code = (err as { code?: string }).code;
  if (code === "EROFS") return "the file system is read-only";
  if (code === "ENOTDIR") return "a file stands where a folder above it should be";
  return (err as Error).message?.replace(/ \(os error \d+\).*$/, "") ?? String(err);
}
