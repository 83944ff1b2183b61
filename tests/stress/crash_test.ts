/** kill -9 of the server during real restic backups: nothing corrupt, nothing partial. */
import assert from "node:assert/strict";
import { runCrashCycles } from "../helpers/crash.ts";
import { tempDir } from "../helpers/files.ts";
import { E2E } from "../helpers/process.ts";

Deno.test({
  name:
    "20 SIGKILLs during restic backups: no corrupt or partial object, leftovers removed, check clean",
  ...E2E,
  async fn() {
    await using work = await tempDir();
    const report = await runCrashCycles({ kills: 20, seed: 20261127, work: work.path });
    assert.equal(report.kills, 20);
    assert.deepEqual(report.corruptObjects, []);
    assert.equal(
      report.tempFilesAfterRestart,
      0,
      "every leftover temp file is removed at the next start",
    );
    assert.equal(report.tempNamesListed, 0);
    assert.equal(report.check.code, 0, report.check.output);
    assert.match(report.check.output, /no errors were found/);
    assert.ok(report.backupsCompleted > 0, "restic rides through restarts");
  },
});
