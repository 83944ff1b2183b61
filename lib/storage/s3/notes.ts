/**
 * The shared notes of servers on one bucket: small objects under
 * `PREFIX.restic-rest-view/`, a key no repository can have (repository
 * names never start with a dot) and that restic never lists.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { SharedNotes } from "../types.ts";
import type { S3Ops } from "./ops.ts";

/** Where the notes live below the storage's prefix. */
export const NOTES_FOLDER = ".restic-rest-view/";

/** Notes as objects of the bucket. */
export class S3Notes implements SharedNotes {
  readonly #base: string;

  /**
   * @param ops The bucket's operations.
   * @param prefix The storage's prefix (`""` or `"some/prefix/"`).
   */
  constructor(readonly ops: S3Ops, prefix: string) {
    this.#base = prefix + NOTES_FOLDER;
  }

  async list(signal?: AbortSignal): Promise<{ name: string; tag: string }[]> {
    const notes: { name: string; tag: string }[] = [];
    for await (const page of this.ops.list(this.#base, { signal })) {
      for (const { key, etag, size, mtimeMs } of page.keys) {
        const name = key.slice(this.#base.length);
        if (name !== "" && !name.includes("/")) {
          notes.push({ name, tag: etag || `${size}-${mtimeMs}` });
        }
      }
    }
    return notes;
  }

  async read(name: string, signal?: AbortSignal): Promise<string | null> {
    const response = await this.ops.send(
      { method: "GET", key: this.#base + name, signal },
      "read a shared note",
      [404],
    );
    if (response.status === 404) {
      await response.body.cancel().catch(() => {});
      return null;
    }
    return await response.text();
  }

  async write(name: string, text: string, signal?: AbortSignal): Promise<void> {
    const bytes = new TextEncoder().encode(text);
    await this.ops.put(this.#base + name, bytes, {
      contentLength: bytes.length,
      payloadHash: createHash("sha256").update(bytes).digest("hex"),
      headers: { "content-type": "application/json" },
      signal,
    });
  }

  async remove(name: string, signal?: AbortSignal): Promise<void> {
    await this.ops.delete(this.#base + name, signal);
  }
}
