/**
 * The tree of files the end-to-end tests back up with restic (small, empty,
 * big, linked and non-ASCII files), and a description of a tree to compare
 * a restore with.
 *
 * @module
 */

import { join } from "node:path";
import { pseudoRandomBytes, sha256 } from "./files.ts";

/** Writes the tree restic backs up: small, empty, big, linked and non-ASCII files. */
export async function makeTree(root: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const dir = join(root, "small", `d${i % 12}`);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeFile(join(dir, `f${i}.bin`), pseudoRandomBytes(i * 7 % 5000, i + 1));
  }
  await Deno.mkdir(join(root, "empty-dir"));
  for (let i = 0; i < 5; i++) await Deno.writeFile(join(root, `empty-${i}`), new Uint8Array());
  await Deno.mkdir(join(root, "big"));
  for (const [i, mib] of [[1, 12], [2, 20], [3, 31]]) {
    await Deno.writeFile(
      join(root, "big", `big-${mib}MiB.bin`),
      pseudoRandomBytes(mib << 20, i * 1000),
    );
  }
  await Deno.mkdir(join(root, "名前 with spaces"));
  await Deno.writeTextFile(join(root, "名前 with spaces", "Ünïcødé ñame 🎉.txt"), "non-ASCII\n");
  await Deno.writeTextFile(join(root, "日本語.txt"), "こんにちは\n");
  await Deno.symlink("日本語.txt", join(root, "link-relative"));
  await Deno.symlink("/nonexistent/target", join(root, "link-dangling"));
  await Deno.symlink("small/d1", join(root, "link-to-dir"));
}

/** One entry of a described tree. */
export type Entry = { kind: "file"; hash: string } | { kind: "dir" } | {
  kind: "link";
  target: string;
};

/** Every entry below `root`: files by hash, links by target. */
export async function describeTree(root: string): Promise<Map<string, Entry>> {
  const entries = new Map<string, Entry>();
  const visit = async (dir: string, prefix: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      const rel = prefix + entry.name;
      if (entry.isSymlink) entries.set(rel, { kind: "link", target: await Deno.readLink(path) });
      else if (entry.isDirectory) {
        entries.set(rel, { kind: "dir" });
        await visit(path, rel + "/");
      } else entries.set(rel, { kind: "file", hash: sha256(await Deno.readFile(path)) });
    }
  };
  await visit(root, "");
  return entries;
}
