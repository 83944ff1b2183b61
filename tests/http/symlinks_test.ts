/**
 * Symbolic links below the data folder are never followed: a linked object
 * is not served, a linked repository folder is neither written through nor
 * removed through, and the start-up walk stays inside. Whatever is outside
 * stays exactly as it was.
 */
import assert from "node:assert/strict";
import { FsStorage } from "../../lib/storage/fs/storage.ts";
import { appOn, call, memoryLogger } from "../helpers/app.ts";
import { listFiles, sha256, tempDir } from "../helpers/files.ts";

const CANARY = "outside the data folder";

/** A data folder with repository /r/, and an outside folder with a file and a fake repository. */
async function setUp() {
  const root = await tempDir();
  const data = `${root.path}/data`;
  const outside = `${root.path}/outside`;
  const log = memoryLogger();
  const storage = new FsStorage(data);
  await storage.prepare();
  const app = appOn(storage, { log, allowRepoDelete: true });
  assert.equal((await call(app, "POST", "/r/?create=true")).status, 200);
  await Deno.mkdir(`${outside}/repo/keys`, { recursive: true });
  await Deno.writeTextFile(`${outside}/secret`, CANARY);
  await Deno.writeTextFile(`${outside}/repo/config`, CANARY);
  await Deno.writeTextFile(`${outside}/repo/keys/${sha256(CANARY)}`, CANARY);
  await Deno.writeTextFile(`${outside}/repo/.restic-rest-upload-x`, CANARY);
  return { root, data, outside, app, log, storage };
}

async function tree(folder: string): Promise<string> {
  const files = await listFiles(folder);
  const contents = await Promise.all(files.map((f) => Deno.readTextFile(`${folder}/${f}`)));
  return files.map((f, i) => `${f}: ${contents[i]}`).join("\n");
}

Deno.test("a linked object is not served, listed nor replaced: 500 and a logged reason", async () => {
  const { root, data, outside, app, log } = await setUp();
  await using _ = root;
  const id = sha256(CANARY);
  await Deno.symlink(`${outside}/secret`, `${data}/r/keys/${id}`);
  const before = await tree(outside);
  for (const method of ["GET", "HEAD"]) {
    const response = await call(app, method, `/r/keys/${id}`);
    assert.equal(response.status, 500, method);
    assert.ok(!response.text.includes(CANARY), `${method} leaked`);
  }
  assert.equal((await call(app, "GET", "/r/keys/")).text, "[]");
  const post = await call(app, "POST", `/r/keys/${id}`, { body: CANARY });
  assert.equal(post.status, 500, "a link under the name is never taken for the object");
  assert.ok(
    log.lines.some((l) => /keys\/[0-9a-f]{64} is a symbolic link/.test(l)),
    log.lines.join("\n"),
  );
  assert.equal(await tree(outside), before);
});

Deno.test("a linked repository folder is neither created in, written through, read nor removed", async () => {
  const { root, data, outside, app } = await setUp();
  await using _ = root;
  await Deno.symlink(`${outside}/repo`, `${data}/linked`);
  await Deno.symlink(outside, `${data}/r/nested`);
  const before = await tree(outside);
  const blob = new TextEncoder().encode("new key");
  const cases: [string, string, number][] = [
    ["POST", "/linked/?create=true", 500],
    ["POST", `/linked/keys/${sha256(blob)}`, 500],
    ["POST", "/linked/config", 500],
    ["GET", "/linked/config", 500],
    ["GET", `/linked/keys/${sha256(CANARY)}`, 500],
    ["GET", "/linked/keys/", 500],
    ["DELETE", `/linked/keys/${sha256(CANARY)}`, 500],
    ["DELETE", "/linked/config", 500],
    ["DELETE", "/linked/", 500],
    ["POST", "/r/nested/repo/?create=true", 500],
    ["DELETE", "/r/nested/repo/", 500],
  ];
  for (const [method, path, status] of cases) {
    const response = await call(app, method, path, { body: method === "POST" ? blob : undefined });
    assert.equal(response.status, status, `${method} ${path}`);
    assert.ok(!response.text.includes(CANARY), `${method} ${path} leaked`);
  }
  assert.equal(await tree(outside), before, "nothing outside changed");
  assert.equal((await call(app, "DELETE", "/r/")).status, 200, "the real repository goes");
  assert.equal(await tree(outside), before, "its removal did not follow the link inside it");
  assert.ok((await Deno.lstat(`${data}/r/nested`)).isSymlink, "the link itself is left");
});

Deno.test("the start-up walk neither counts nor cleans through a link", async () => {
  const { root, data, outside, storage } = await setUp();
  await using _ = root;
  await Deno.symlink(`${outside}/repo`, `${data}/linked`);
  await Deno.remove(`${data}/r/index`);
  await Deno.symlink(`${outside}/repo/keys`, `${data}/r/index`);
  const before = await tree(outside);
  const found: string[] = [];
  await storage.scan((object) => found.push(object.ref.type));
  assert.deepEqual(found, []);
  assert.equal(await tree(outside), before, "the temp file outside was not removed");
});
