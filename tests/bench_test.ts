/**
 * The benchmark harness still runs: `bench/run.ts --quick` against both
 * servers, every scenario at toy sizes. Structure only, never timing.
 */
import assert from "node:assert/strict";
import { E2E, PROJECT_ROOT, runCommand, tempDir } from "./_helpers.ts";

Deno.test({
  name: "deno task bench --quick prints one row per scenario for restic-rest and rclone",
  ...E2E,
  async fn() {
    await using work = await tempDir();
    const result = await runCommand(Deno.execPath(), [
      "run",
      "--allow-all",
      `${PROJECT_ROOT}bench/run.ts`,
      "--quick",
      "--dir",
      work.path,
    ]);
    assert.equal(result.code, 0, result.stderr);
    for (
      const row of [
        "disk limit",
        "upload c1",
        "upload c8",
        "RSS rise, 8 uploads over idle",
        "download c1",
        "download c8",
        "range c8",
        "small c32",
        "list 2k v1",
        "list 2k v2",
        "list 2k v2 first byte",
        "restic backup through the server",
        "peak RSS, list v2",
      ]
    ) {
      assert.match(result.stdout, new RegExp(`^\\| ${row.replace(/[()]/g, "\\$&")}`, "m"), row);
    }
    const numbers = /^\| upload c1 +\| MB\/s +\| ([\d.]+) +\| ([\d.]+) +\| ([\d.]+)×/m.exec(
      result.stdout,
    );
    assert.ok(numbers, "upload c1 has figures for both servers and a ratio");
  },
});
