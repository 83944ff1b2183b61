/** A full disk: 507, nothing partial, earlier objects intact, and uploads work again once space is freed. */
import assert from "node:assert/strict";
import { listFiles, pseudoRandomBytes, sha256, tempFiles } from "../helpers/files.ts";
import { E2E, startServerProcess } from "../helpers/process.ts";

async function run(command: string, args: string[]): Promise<{ code: number; err: string }> {
  const out = await new Deno.Command(command, { args, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return { code: out.code, err: decoder.decode(out.stderr) + decoder.decode(out.stdout) };
}

const mountPoint = await Deno.makeTempDir({ prefix: "restic-rest-full-disk-" });
const mounted = await run("mount", ["-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", mountPoint])
  .catch((err) => ({ code: -1, err: String(err) }));
const canMount = mounted.code === 0;
if (!canMount) {
  await Deno.remove(mountPoint).catch(() => {});
  if (Deno.uid() === 0) {
    Deno.test("full disk: mounting a small tmpfs works (required as root)", () => {
      assert.fail(`mount -t tmpfs failed as root: ${mounted.err}`);
    });
  }
}

Deno.test({
  name:
    "full disk: uploads answer 507, nothing partial stays, stored objects stay readable, freed space works again",
  ignore: !canMount,
  ...E2E,
  async fn() {
    try {
      await using server = await startServerProcess([mountPoint, "--no-auth", "--debug"]);
      const create = await fetch(`${server.url}/r/?create=true`, { method: "POST" });
      await create.body?.cancel();
      assert.equal(create.status, 200);
      const stored: { id: string; body: Uint8Array }[] = [];
      let refused = 0;
      for (let i = 0; i < 30 && refused < 3; i++) {
        const body = pseudoRandomBytes(700 * 1024, 1000 + i);
        const id = sha256(body);
        const response = await fetch(`${server.url}/r/data/${id}`, { method: "POST", body });
        await response.body?.cancel();
        if (response.status === 200) stored.push({ id, body });
        else {
          assert.equal(response.status, 507, `upload ${i}`);
          refused++;
        }
      }
      assert.ok(stored.length >= 3, `stored ${stored.length}`);
      assert.equal(refused, 3, "the disk filled up");
      assert.deepEqual(await tempFiles(mountPoint), [], "no temp file stays");
      const visible = (await listFiles(mountPoint)).filter((f) => /[0-9a-f]{64}$/.test(f));
      assert.equal(visible.length, stored.length, "nothing partial became visible");
      for (const { id, body } of stored) {
        const got = new Uint8Array(await (await fetch(`${server.url}/r/data/${id}`)).arrayBuffer());
        assert.equal(sha256(got), sha256(body));
      }
      const config = await fetch(`${server.url}/r/config`, {
        method: "POST",
        body: "x".repeat(2_000_000),
      });
      await config.body?.cancel();
      assert.equal(config.status, 507, "the config too");
      assert.equal(
        await fetch(`${server.url}/r/config`).then((r) => (r.body?.cancel(), r.status)),
        404,
      );
      for (const { id } of stored.slice(0, 3)) {
        const deleted = await fetch(`${server.url}/r/data/${id}`, { method: "DELETE" });
        await deleted.body?.cancel();
        assert.equal(deleted.status, 200);
      }
      const body = pseudoRandomBytes(700 * 1024, 99);
      const again = await fetch(`${server.url}/r/data/${sha256(body)}`, { method: "POST", body });
      await again.body?.cancel();
      assert.equal(again.status, 200, "uploads work again after space was freed");
      assert.ok(
        server.stderr.some((l) => /no space left \(ENOSPC\)/.test(l)),
        "the reason is logged",
      );
    } finally {
      await run("umount", [mountPoint]);
      await Deno.remove(mountPoint, { recursive: true }).catch(() => {});
    }
  },
});
