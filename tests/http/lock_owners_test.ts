/**
 * Locks belong to who made them: a read-only or append-only user deletes
 * only their own, a user with full rights any; the owner is kept with the
 * lock and survives a restart, on every medium.
 */
import assert from "node:assert/strict";
import { HtpasswdAuth } from "../../lib/auth/htpasswd_auth.ts";
import { parsePolicy } from "../../lib/access/policy.ts";
import { FsStorage } from "../../lib/storage/fs/storage.ts";
import { S3Storage } from "../../lib/storage/s3/storage.ts";
import type { Storage } from "../../lib/storage/types.ts";
import { appOn, MEDIA, type Medium, mediumTest, memoryLogger } from "../helpers/app.ts";
import { sha256, tempDir } from "../helpers/files.ts";
import { MemoryStorage } from "../helpers/memory_storage.ts";
import { sharedStore, storeStorage } from "../helpers/object_store.ts";

const SECRET = "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="; // "secret"
const POLICY = parsePolicy(
  JSON.stringify({
    users: {
      admin: { "/shared/": "full" },
      alice: { "/shared/": "read-only" },
      bob: { "/shared/": "append-only" },
    },
  }),
  "policy.json",
);

/** A medium that can be opened again on what it stored (a restart). */
async function reopenable(
  medium: Medium,
  dir: string,
): Promise<{ open(): Storage; close(): void }> {
  if (medium === "fs") return { open: () => new FsStorage(dir), close: () => {} };
  if (medium === "memory") {
    const memory = new MemoryStorage();
    return { open: () => memory, close: () => {} };
  }
  const { client } = await storeStorage(await sharedStore());
  return {
    open: () => new S3Storage(client, "pre/"),
    close: () => client.close(),
  };
}

function lockOf(who: string): { body: Uint8Array<ArrayBuffer>; id: string } {
  const body = new TextEncoder().encode(JSON.stringify({ time: Date.now(), username: who }));
  return { body, id: sha256(body) };
}

for (const medium of MEDIA) {
  mediumTest(medium)(
    `locks: only the owner or a user with full rights deletes a lock, across a restart (${medium})`,
    async () => {
      await using dir = await tempDir();
      const file = `${dir.path}/.htpasswd`;
      await Deno.writeTextFile(
        file,
        ["admin", "alice", "bob"].map((u) => `${u}:${SECRET}\n`).join(""),
      );
      using auth = await HtpasswdAuth.load({ file, log: memoryLogger() });
      const media = await reopenable(medium, `${dir.path}/data`);
      try {
        const start = async () => {
          const storage = media.open();
          await storage.prepare();
          const app = appOn(storage, { auth, policy: POLICY });
          return async (
            user: string,
            method: string,
            path: string,
            body?: Uint8Array<ArrayBuffer>,
          ) => {
            const response = await app(
              new Request(`http://x${path}`, {
                method,
                body,
                headers: { authorization: `Basic ${btoa(`${user}:secret`)}` },
              }),
            );
            await response.body?.cancel();
            return response.status;
          };
        };
        let as = await start();
        assert.equal(await as("admin", "POST", "/shared/?create=true"), 200);
        const locks = Object.fromEntries(["admin", "alice", "bob"].map((u) => [u, lockOf(u)]));
        for (const [user, { body, id }] of Object.entries(locks)) {
          assert.equal(await as(user, "POST", `/shared/locks/${id}`, body), 200, `${user} locks`);
        }
        as = await start(); // a restart: the owners come from the medium
        assert.equal(
          await as("alice", "DELETE", `/shared/locks/${locks.admin.id}`),
          403,
          "read-only alice cannot remove admin's lock",
        );
        assert.equal(await as("bob", "DELETE", `/shared/locks/${locks.admin.id}`), 403, "nor bob");
        assert.equal(await as("bob", "DELETE", `/shared/locks/${locks.alice.id}`), 403);
        assert.equal(
          await as("alice", "POST", `/shared/locks/${locks.admin.id}`, locks.admin.body),
          200,
          "uploading the same bytes again changes nothing",
        );
        assert.equal(await as("alice", "DELETE", `/shared/locks/${locks.admin.id}`), 403, "still");
        assert.equal(
          await as("alice", "GET", `/shared/locks/${locks.admin.id}`),
          200,
          "still there",
        );
        assert.equal(
          await as("alice", "DELETE", `/shared/locks/${locks.alice.id}`),
          200,
          "her own",
        );
        assert.equal(await as("bob", "DELETE", `/shared/locks/${locks.bob.id}`), 200, "his own");
        assert.equal(await as("admin", "DELETE", `/shared/locks/${locks.admin.id}`), 200);
        const stray = lockOf("admin-again");
        assert.equal(await as("admin", "POST", `/shared/locks/${stray.id}`, stray.body), 200);
        assert.equal(
          await as("bob", "DELETE", `/shared/locks/${lockOf("gone").id}`),
          200,
          "missing",
        );
        assert.equal(await as("admin", "DELETE", `/shared/locks/${stray.id}`), 200, "full rights");
        assert.equal(await as("admin", "GET", `/shared/locks/${stray.id}`), 404);
      } finally {
        media.close();
      }
    },
  );
}

Deno.test("locks on a disk: the owner file is made before the lock and goes after it, never listed", async () => {
  await using dir = await tempDir();
  const storage = new FsStorage(dir.path);
  await storage.prepare();
  await storage.createRepo([]);
  const { body, id } = lockOf("anna");
  await storage.save({ repo: [], type: "locks", name: id }, body, {
    verifyHash: true,
    contentLength: body.length,
    owner: "anna",
  });
  const names = [...Deno.readDirSync(`${dir.path}/locks`)].map((e) => e.name).sort();
  assert.deepEqual(names, [`.restic-rest-owner-${id}`, id]);
  assert.equal(await storage.lockOwner({ repo: [], type: "locks", name: id }), "anna");
  const listed = [];
  for await (const page of await storage.list([], "locks", false)) listed.push(...page.names);
  assert.deepEqual(listed, [id]);
  await storage.remove({ repo: [], type: "locks", name: id });
  assert.deepEqual([...Deno.readDirSync(`${dir.path}/locks`)], []);
  // A crash between the two removals leaves an owner file alone: the start-up walk removes it.
  await Deno.writeTextFile(`${dir.path}/locks/.restic-rest-owner-${id}`, "anna\n");
  const report = await storage.scan(() => {});
  assert.equal(report.removedTempFiles, 1);
  assert.deepEqual([...Deno.readDirSync(`${dir.path}/locks`)], []);
});
