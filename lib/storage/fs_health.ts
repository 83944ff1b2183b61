/**
 * Whether the data folder takes writes, for `/healthz`: the folder is looked
 * up on every call (cheap), a file is written and removed at most every 10 s,
 * so a flood of probes writes one file; the free space is read with it.
 *
 * @module
 */

import { statfs } from "node:fs/promises";
import { join } from "../fs_util.ts";
import { TEMP_FILE_PREFIX } from "../restic.ts";
import { toStorageError } from "./fs_errors.ts";
import { randomSuffix } from "./fs_upload.ts";
import type { Health } from "./types.ts";

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
