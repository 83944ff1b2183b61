import assert from "node:assert/strict";
import { call, MEDIA, mediumTest, testApp } from "../helpers/app.ts";
import { sha256 } from "../helpers/files.ts";
import { LIST_V1_MEDIA_TYPE, LIST_V2_MEDIA_TYPE, TEMP_FILE_PREFIX } from "../../lib/base/restic.ts";

const BLOB = new TextEncoder().encode("restic blob content\n");
const BLOB_ID = sha256(BLOB);
const OTHER = new TextEncoder().encode("something else");

for (const medium of MEDIA) {
  const test = mediumTest(medium);
  for (const repo of ["/", "/potato/sausage/"]) {
    test(`createRepo() makes the folders and data/00..ff at ${repo} (${medium})`, async () => {
      await using t = await testApp({ medium });
      assert.equal((await call(t.app, "POST", `${repo}?create=true`)).status, 200);
      assert.equal((await call(t.app, "POST", `${repo}?create=true`)).status, 200, "idempotent");
      if (medium !== "fs") return; // folders are the file storage's way to remember a repository
      const base = `${t.dir}${repo}`;
      for (const type of ["data", "index", "keys", "locks", "snapshots"]) {
        assert.ok((await Deno.stat(base + type)).isDirectory, type);
      }
      const subs = [];
      for await (const e of Deno.readDir(base + "data")) subs.push(e.name);
      assert.equal(subs.length, 256);
      assert.ok(subs.includes("00") && subs.includes("ff") && subs.includes("7a"));
    });

    test(`object lifecycle at ${repo}: save, head, get, list, delete (${medium})`, async () => {
      await using t = await testApp({ medium });
      await call(t.app, "POST", `${repo}?create=true`);
      const path = `${repo}data/${BLOB_ID}`;
      assert.equal((await call(t.app, "HEAD", path)).status, 404);
      const saved = await call(t.app, "POST", path, { body: BLOB });
      assert.deepEqual([saved.status, saved.text], [200, ""]);
      assert.ok(
        (await t.files()).includes(`${repo.slice(1)}data/${BLOB_ID.slice(0, 2)}/${BLOB_ID}`),
      );
      const head = await call(t.app, "HEAD", path);
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), String(BLOB.length));
      const got = await call(t.app, "GET", path);
      assert.equal(got.status, 200);
      assert.equal(got.text, "restic blob content\n");
      assert.equal(got.headers.get("content-type"), "application/octet-stream");
      assert.equal(got.headers.get("content-length"), String(BLOB.length));
      const list = await call(t.app, "GET", `${repo}data/`);
      assert.deepEqual(JSON.parse(list.text), [BLOB_ID]);
      const deleted = await call(t.app, "DELETE", path);
      assert.deepEqual([deleted.status, deleted.text], [200, ""]);
      assert.equal((await call(t.app, "GET", path)).status, 404);
      assert.equal((await call(t.app, "DELETE", path)).status, 200, "deleting a missing object");
    });
  }

  test(`createRepo() needs ?create=true (${medium})`, async () => {
    await using t = await testApp({ medium });
    assert.equal((await call(t.app, "POST", "/")).status, 400);
    assert.equal((await call(t.app, "POST", "/?create=false")).status, 400);
    assert.equal((await call(t.app, "POST", "/a/?create=1")).status, 400);
    assert.deepEqual(await t.files(), []);
  });

  test(`createRepo() is allowed in append-only mode (${medium})`, async () => {
    await using t = await testApp({ medium, appendOnly: true });
    assert.equal((await call(t.app, "POST", "/r/?create=true")).status, 200);
  });

  for (const method of ["GET", "HEAD", "PUT"]) {
    test(`${method} on a repository root answers 405 with Allow: POST, DELETE (${medium})`, async () => {
      await using t = await testApp({ medium });
      const response = await call(t.app, method, "/a/");
      assert.equal(response.status, 405);
      assert.equal(response.headers.get("allow"), "POST, DELETE");
    });
  }

  test(`config: missing gives 404 to HEAD and GET (${medium})`, async () => {
    await using t = await testApp({ medium });
    assert.equal((await call(t.app, "HEAD", "/config")).status, 404);
    const got = await call(t.app, "GET", "/config");
    assert.equal(got.status, 404);
    assert.equal(got.text, "Not Found: not found\n");
    assert.match(got.headers.get("content-type") ?? "", /^text\/plain/);
  });

  test(`config: saved once, read back, never overwritten (${medium})`, async () => {
    await using t = await testApp({ medium });
    await call(t.app, "POST", "/r/?create=true");
    assert.equal((await call(t.app, "POST", "/r/config", { body: "first" })).status, 200);
    const head = await call(t.app, "HEAD", "/r/config");
    assert.deepEqual([head.status, head.headers.get("content-length")], [200, "5"]);
    assert.equal((await call(t.app, "GET", "/r/config")).text, "first");
    const again = await call(t.app, "POST", "/r/config", { body: "second" });
    assert.equal(again.status, 403);
    assert.equal(await t.read("r/config"), "first");
    const same = await call(t.app, "POST", "/r/config", { body: "first" });
    assert.equal(same.status, 403, "config is never hashed, so even equal content is refused");
  });

  test(`config: DELETE answers 200 also when missing; 403 in append-only mode (${medium})`, async () => {
    await using t = await testApp({ medium });
    await call(t.app, "POST", "/config", { body: "c" });
    assert.equal((await call(t.app, "DELETE", "/config")).status, 200);
    assert.equal((await call(t.app, "DELETE", "/config")).status, 200);
    await using ao = await testApp({ medium, appendOnly: true });
    await call(ao.app, "POST", "/config", { body: "c" });
    assert.equal((await call(ao.app, "DELETE", "/config")).status, 403);
    assert.equal(await ao.read("config"), "c");
  });

  test(`listObjects() gives 404 for a missing type folder (${medium})`, async () => {
    await using t = await testApp({ medium });
    assert.equal((await call(t.app, "GET", "/nope/keys/")).status, 404);
  });

  test(`listObjects() gives [] for an empty folder, v1 and v2 (${medium})`, async () => {
    await using t = await testApp({ medium });
    await call(t.app, "POST", "/?create=true");
    const v1 = await call(t.app, "GET", "/snapshots/");
    assert.deepEqual([v1.status, v1.text, v1.headers.get("content-type")], [
      200,
      "[]",
      LIST_V1_MEDIA_TYPE,
    ]);
    const v2 = await call(t.app, "GET", "/data/", { headers: { accept: LIST_V2_MEDIA_TYPE } });
    assert.deepEqual([v2.status, v2.text, v2.headers.get("content-type")], [
      200,
      "[]",
      LIST_V2_MEDIA_TYPE,
    ]);
  });

  test(`listObjects() v2 gives names and sizes; v1 only for other Accept values (${medium})`, async () => {
    await using t = await testApp({ medium });
    await call(t.app, "POST", "/?create=true");
    await call(t.app, "POST", `/keys/${BLOB_ID}`, { body: BLOB });
    const v2 = await call(t.app, "GET", "/keys/", { headers: { accept: LIST_V2_MEDIA_TYPE } });
    assert.deepEqual(JSON.parse(v2.text), [{ name: BLOB_ID, size: BLOB.length }]);
    const other = await call(t.app, "GET", "/keys/", {
      headers: { accept: `${LIST_V2_MEDIA_TYPE}, */*` },
    });
    assert.equal(other.headers.get("content-type"), LIST_V1_MEDIA_TYPE);
    assert.deepEqual(JSON.parse(other.text), [BLOB_ID]);
  });

  test(`listObjects() lists only valid names, data only from its subfolders (${medium})`, async () => {
    await using t = await testApp({ medium });
    await call(t.app, "POST", "/?create=true");
    const good = "0b" + "c".repeat(62);
    const nested = "ff" + "1".repeat(62);
    await t.plant(`data/0b/${good}`, "x");
    await t.plant(`data/zz/${nested}`, "yy"); // any subfolder counts
    await t.plant(`data/${"d".repeat(64)}`, "top level: ignored");
    await t.plant("data/0b/.DS_Store", "junk");
    await t.plant(`data/0b/${TEMP_FILE_PREFIX}${good}-1234`, "temp");
    await t.plant(`data/0b/${good.toUpperCase()}`, "upper");
    if (medium === "fs") await Deno.mkdir(`${t.dir}/data/0b/${"e".repeat(64)}`); // a folder with an object name
    const list = await call(t.app, "GET", "/data/", { headers: { accept: LIST_V2_MEDIA_TYPE } });
    const entries = JSON.parse(list.text).sort((a: { name: string }, b: { name: string }) =>
      a.name.localeCompare(b.name)
    );
    assert.deepEqual(entries, [{ name: good, size: 1 }, { name: nested, size: 2 }]);
  });

  test(`listObjects() streams a large listing as valid JSON (${medium})`, async () => {
    await using t = await testApp({ medium });
    await call(t.app, "POST", "/?create=true");
    const names = Array.from({ length: 2100 }, (_, i) => sha256(String(i))); // three pages of a bucket listing
    for (let i = 0; i < names.length; i += 100) { // a hundred at a time: the store is one process
      await Promise.all(names.slice(i, i + 100).map((n) => t.plant(`locks/${n}`, "")));
    }
    const list = await call(t.app, "GET", "/locks/");
    assert.deepEqual(JSON.parse(list.text).sort(), names.sort());
  });

  test(`saveObject() refuses a body whose hash differs from the name, storing nothing (${medium})`, async () => {
    await using t = await testApp({ medium });
    await call(t.app, "POST", "/?create=true");
    const response = await call(t.app, "POST", `/data/${BLOB_ID}`, { body: OTHER });
    assert.equal(response.status, 400);
    assert.equal((await call(t.app, "HEAD", `/data/${BLOB_ID}`)).status, 404);
    assert.deepEqual((await t.files()).filter((f) => !f.endsWith("/")), []);
  });

  test(`saveObject() accepts a verified re-upload without touching the stored file (${medium})`, async () => {
    await using t = await testApp({ medium });
    await call(t.app, "POST", "/?create=true");
    await call(t.app, "POST", `/index/${BLOB_ID}`, { body: BLOB });
    const file = `${t.dir}/index/${BLOB_ID}`;
    const stamp = async () => medium === "fs" ? await Deno.stat(file) : null;
    const before = await stamp();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await call(t.app, "POST", `/index/${BLOB_ID}`, { body: BLOB })).status, 200);
    const after = await stamp();
    assert.equal(after?.ino, before?.ino);
    assert.equal(after?.mtime?.getTime(), before?.mtime?.getTime());
    assert.equal((await call(t.app, "POST", `/index/${BLOB_ID}`, { body: OTHER })).status, 400);
    assert.equal(await t.read(`index/${BLOB_ID}`), "restic blob content\n");
  });

  test(`saveObject() re-upload in append-only mode: same content 200, other 400 (${medium})`, async () => {
    await using t = await testApp({ medium, appendOnly: true });
    await call(t.app, "POST", "/?create=true");
    assert.equal((await call(t.app, "POST", `/data/${BLOB_ID}`, { body: BLOB })).status, 200);
    assert.equal((await call(t.app, "POST", `/data/${BLOB_ID}`, { body: BLOB })).status, 200);
    assert.equal((await call(t.app, "POST", `/data/${BLOB_ID}`, { body: OTHER })).status, 400);
  });

  test(`saveObject() without verification stores any body but refuses an existing object (${medium})`, async () => {
    await using t = await testApp({ medium, verifyUpload: false });
    await call(t.app, "POST", "/?create=true");
    assert.equal((await call(t.app, "POST", `/data/${BLOB_ID}`, { body: OTHER })).status, 200);
    assert.equal((await call(t.app, "POST", `/data/${BLOB_ID}`, { body: BLOB })).status, 403);
    assert.equal((await call(t.app, "GET", `/data/${BLOB_ID}`)).text, "something else");
  });

  test(`saveObject() creates missing parent folders (${medium})`, async () => {
    await using t = await testApp({ medium });
    assert.equal((await call(t.app, "POST", `/fresh/data/${BLOB_ID}`, { body: BLOB })).status, 200);
    assert.equal(
      (await call(t.app, "GET", `/fresh/data/${BLOB_ID}`)).text,
      "restic blob content\n",
    );
  });

  test(`saveObject() refuses a malformed Content-Length with 400 (${medium})`, async () => {
    await using t = await testApp({ medium });
    const response = await t.app(
      new Request(`http://x/keys/${BLOB_ID}`, { method: "POST", body: BLOB }),
    );
    await response.body?.cancel();
    assert.equal(response.status, 200);
    const bad = await call(t.app, "POST", `/keys/${sha256("")}`, {
      body: "",
      headers: { "content-length": "-5" },
    });
    assert.equal(bad.status, 400);
  });

  test(`deleteObject() in append-only mode: 403 before anything, but locks may go (${medium})`, async () => {
    await using t = await testApp({ medium, appendOnly: true });
    await call(t.app, "POST", "/?create=true");
    for (const type of ["data", "index", "keys", "snapshots"]) {
      await call(t.app, "POST", `/${type}/${BLOB_ID}`, { body: BLOB });
      assert.equal((await call(t.app, "DELETE", `/${type}/${BLOB_ID}`)).status, 403, type);
      assert.equal((await call(t.app, "HEAD", `/${type}/${BLOB_ID}`)).status, 200, type);
      const missing = sha256(type);
      assert.equal(
        (await call(t.app, "DELETE", `/${type}/${missing}`)).status,
        403,
        "checked first",
      );
    }
    await call(t.app, "POST", `/locks/${BLOB_ID}`, { body: BLOB });
    assert.equal((await call(t.app, "DELETE", `/locks/${BLOB_ID}`)).status, 200);
    assert.equal((await call(t.app, "HEAD", `/locks/${BLOB_ID}`)).status, 404);
  });

  test(`getObject() serves ranges with 206 and refuses bad ones with 416 (${medium})`, async () => {
    await using t = await testApp({ medium });
    await call(t.app, "POST", `/data/${BLOB_ID}`, { body: BLOB });
    const path = `/data/${BLOB_ID}`;
    const partial = await call(t.app, "GET", path, { headers: { range: "bytes=7-10" } });
    assert.equal(partial.status, 206);
    assert.equal(partial.text, "blob");
    assert.equal(partial.headers.get("content-range"), `bytes 7-10/${BLOB.length}`);
    assert.equal(partial.headers.get("content-length"), "4");
    const open = await call(t.app, "GET", path, { headers: { range: "bytes=12-" } });
    assert.deepEqual([open.status, open.text], [206, "content\n"]);
    const clipped = await call(t.app, "GET", path, { headers: { range: "bytes=12-1000" } });
    assert.deepEqual([clipped.status, clipped.text], [206, "content\n"]);
    const suffix = await call(t.app, "GET", path, { headers: { range: "bytes=-3" } });
    assert.deepEqual([suffix.status, suffix.text], [206, "nt\n"]);
    const past = await call(t.app, "GET", path, { headers: { range: `bytes=${BLOB.length}-` } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get("content-range"), `bytes */${BLOB.length}`);
    const unit = await call(t.app, "GET", path, { headers: { range: "items=0-1" } });
    assert.equal(unit.status, 416);
    const multi = await call(t.app, "GET", path, { headers: { range: "bytes=0-1,3-4" } });
    assert.deepEqual([multi.status, multi.text], [200, "restic blob content\n"]);
    const missing = await call(t.app, "GET", `/data/${sha256("x")}`, {
      headers: { range: "bytes=0-" },
    });
    assert.equal(missing.status, 404);
  });

  test(`getObject() answers 416 for bytes=0- on an empty object (${medium})`, async () => {
    await using t = await testApp({ medium });
    const empty = sha256("");
    assert.equal((await call(t.app, "POST", `/data/${empty}`, { body: "" })).status, 200);
    const full = await call(t.app, "GET", `/data/${empty}`);
    assert.deepEqual([full.status, full.text, full.headers.get("content-length")], [200, "", "0"]);
    const ranged = await call(t.app, "GET", `/data/${empty}`, { headers: { range: "bytes=0-" } });
    assert.equal(ranged.status, 416);
    assert.equal(ranged.headers.get("content-range"), "bytes */0");
  });

  test(`unknown methods on valid paths answer 405 with Allow (${medium})`, async () => {
    await using t = await testApp({ medium });
    const cases: [string, string, string][] = [
      ["PUT", "/config", "HEAD, GET, POST, DELETE"],
      ["PATCH", `/data/${BLOB_ID}`, "HEAD, GET, POST, DELETE"],
      ["OPTIONS", "/a/config", "HEAD, GET, POST, DELETE"],
      ["POST", "/data/", "GET"],
      ["DELETE", "/keys/", "GET"],
      ["HEAD", "/keys/", "GET"],
      ["PUT", "/", "POST, DELETE"],
    ];
    for (const [method, path, allow] of cases) {
      const response = await call(t.app, method, path);
      assert.equal(response.status, 405, `${method} ${path}`);
      assert.equal(response.headers.get("allow"), allow, `${method} ${path}`);
    }
  });

  test(`paths that do not parse answer 404 for every method, touching nothing (${medium})`, async () => {
    await using t = await testApp({ medium });
    for (const method of ["GET", "HEAD", "POST", "DELETE", "PUT"]) {
      for (
        const path of ["/data/foobar", "/.htpasswd", "/a//config", "/data", `/data/${BLOB_ID}/`]
      ) {
        assert.equal((await call(t.app, method, path)).status, 404, `${method} ${path}`);
      }
    }
    assert.deepEqual(await t.files(), []);
  });
}
