/**
 * `deno task install` writes a `restic-rest` command that runs this Deno
 * by its full path: it works on a machine where `deno` is not on the PATH.
 */
import assert from "node:assert/strict";
import { PROJECT_ROOT, tempDir } from "../helpers/files.ts";
import { runCommand } from "../helpers/process.ts";

Deno.test({
  name:
    "deno task install: the restic-rest command runs --version, user add and serve with no deno on PATH",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using root = await tempDir();
    await using data = await tempDir();
    // As on a machine whose Deno came through npx: nothing named deno on the PATH.
    const bare = `${root.path}/bare`;
    await Deno.mkdir(bare);
    await Deno.symlink("/bin/sh", `${bare}/sh`);
    const path = `${root.path}/bin:${bare}`;
    const installed = await new Deno.Command(Deno.execPath(), {
      args: ["task", "install"],
      cwd: PROJECT_ROOT,
      env: { DENO_INSTALL_ROOT: root.path, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(installed.code, 0, new TextDecoder().decode(installed.stderr));
    const command = `${root.path}/bin/restic-rest`;
    const env = { PATH: path };
    const version = await runCommand(command, ["--version"], "", env);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout + version.stderr, /^restic-rest \d+\.\d+\.\d+/);
    const added = await runCommand(
      command,
      ["user", "add", "anna", "--path", data.path, "--password-stdin"],
      "anna-pw\n",
      env,
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(await Deno.readTextFile(`${data.path}/.htpasswd`), /^anna:\$2[aby]\$/m);
    const server = new Deno.Command(command, {
      args: ["serve", data.path, "--listen", "127.0.0.1:0"],
      env,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      let seen = "";
      const reader = server.stderr.pipeThrough(new TextDecoderStream()).getReader();
      while (!/start server on (\S+)\n/.test(seen)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`serve ended before listening:\n${seen}`);
        seen += value;
      }
      const address = /start server on (\S+)\n/.exec(seen)![1];
      const health = await fetch(`http://${address}/healthz`);
      assert.equal(health.status, 200, await health.text());
      const refused = await fetch(`http://${address}/config`);
      await refused.body?.cancel();
      assert.equal(refused.status, 401, "the user file made by user add is in force");
      reader.releaseLock();
    } finally {
      server.kill("SIGKILL");
      await server.status;
      await server.stderr.cancel().catch(() => {});
    }
  },
});
