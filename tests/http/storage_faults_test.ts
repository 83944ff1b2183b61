/**
 * Storage faults are 500 with a logged reason, never 404 (restic would read
 * that as missing data); a storage that takes no writes is 507 on a write.
 */
import assert from "node:assert/strict";
import { errorToResponse } from "../../lib/http/errors.ts";
import { toStorageError } from "../../lib/storage/fs/errors.ts";
import { StorageError } from "../../lib/storage/types.ts";
import { sha256, tempDir } from "../helpers/files.ts";
import { E2E, startServerProcess } from "../helpers/process.ts";

function withCode(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

const MAPPING: [string, unknown, string, number][] = [
  ["permission denied", new Deno.errors.PermissionDenied("EACCES"), "Io", 500],
  ["an I/O error", withCode("EIO", "Input/output error (os error 5)"), "Io", 500],
  ["a read-only file system", withCode("EROFS", "Read-only file system"), "ReadOnly", 507],
  ["not a directory", new Deno.errors.NotADirectory("ENOTDIR"), "Io", 500],
  ["a symlink loop", withCode("ELOOP", "Too many levels of symbolic links"), "Io", 500],
  ["a full disk", withCode("ENOSPC", "No space left on device"), "NoSpace", 507],
  ["an exceeded disk quota", withCode("EDQUOT", "Disk quota exceeded"), "NoSpace", 507],
  ["a missing file", new Deno.errors.NotFound("ENOENT"), "NotFound", 404],
];
for (const [label, err, code, status] of MAPPING) {
  Deno.test(`toStorageError() maps ${label} on a read to ${code} and ${status}`, async () => {
    const mapped = toStorageError(err, "read object");
    assert.ok(mapped instanceof StorageError);
    assert.equal(mapped.code, code);
    const { response, reason } = errorToResponse(mapped);
    await response.body?.cancel();
    assert.equal(response.status, status);
    assert.match(reason, /^read object/);
  });
}

Deno.test({
  name:
    "real file-system faults (a file where a folder should be, a symlink loop) answer 500 and are logged",
  ...E2E,
  async fn() {
    await using data = await tempDir();
    await using server = await startServerProcess([data.path, "--no-auth"]);
    await fetch(`${server.url}/r/?create=true`, { method: "POST" }).then((r) => r.body?.cancel());
    const id = "ab" + sha256("x").slice(2);
    await Deno.remove(`${data.path}/r/data/ab`);
    await Deno.writeTextFile(`${data.path}/r/data/ab`, "a file, not a folder");
    await Deno.remove(`${data.path}/r/keys`);
    await Deno.symlink(`${data.path}/r/keys`, `${data.path}/r/keys`); // ELOOP
    const cases: [string, string][] = [
      ["GET", `/r/data/${id}`],
      ["HEAD", `/r/data/${id}`],
      ["POST", `/r/data/${id}`],
      ["DELETE", `/r/data/${id}`],
      ["GET", `/r/keys/${id}`],
      ["GET", "/r/keys/"],
      ["POST", `/r/keys/${id}`],
    ];
    for (const [method, path] of cases) {
      const response = await fetch(`${server.url}${path}`, {
        method,
        body: method === "POST" ? "x" : undefined,
      });
      await response.body?.cancel();
      assert.equal(response.status, 500, `${method} ${path}`);
    }
    const errors = server.stderr.filter((l) => l.startsWith("error: "));
    assert.ok(errors.length >= cases.length, errors.join("\n"));
    assert.ok(
      errors.some((l) => /data\/ab is not a folder/.test(l)),
      errors.join("\n"),
    );
    assert.ok(
      errors.some((l) => /keys is a symbolic link; restic-rest follows no links/.test(l)),
      errors.join("\n"),
    );
  },
});

Deno.test("toStorageError() maps a refused write (read-only, no permission) to ReadOnly and 507", async () => {
  for (const err of [withCode("EROFS", "Read-only file system"), withCode("EACCES", "denied")]) {
    const mapped = toStorageError(err, "save data");
    assert.equal(mapped.code, "ReadOnly", String(err));
    const { response } = errorToResponse(mapped);
    assert.equal(response.status, 507);
    assert.match(await response.text(), /^Insufficient Storage: the storage takes no writes/);
  }
});
