/**
 * Temp folders, files and bytes for the tests: made, hashed, listed.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** The repository root of this project. */
export const PROJECT_ROOT = new URL("../..", import.meta.url).pathname;

/** A temp folder removed when disposed. */
export async function tempDir(
  prefix = "restic-rest-test-",
): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Lowercase hex SHA-256 of some bytes. */
export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A seeded pseudo-random generator (LCG) returning numbers in [0, 1), so failures reproduce. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** Lists every file below a folder, relative, sorted. */
export async function listFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (dir: string, prefix: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const rel = prefix + entry.name;
      if (entry.isDirectory) await visit(`${dir}/${entry.name}`, rel + "/");
      else found.push(rel);
    }
  };
  await visit(root, "");
  return found.sort();
}

/** Files anywhere below `root` whose names mark an unfinished upload. */
export async function tempFiles(root: string): Promise<string[]> {
  return (await listFiles(root)).filter((f) =>
    f.split("/").pop()!.startsWith(".restic-rest-upload-")
  );
}

/** Waits until `check` is true, polling, for at most `ms`. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  ms = 5000,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return await check();
}
