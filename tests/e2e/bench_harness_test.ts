/**
 * The benchmark harness run as a user runs it: what it says when an
 * instrument is missing, and, where the native load generator can be built
 * here (the shared bench tools beside the checkout, and Go), `--quick` end
 * to end. Structure only, never timing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultToolsDir } from "../../bench/tools.ts";
import { PROJECT_ROOT, tempDir } from "../helpers/files.ts";
import { E2E, runCommand } from "../helpers/process.ts";

Deno.test({
  name: "deno task bench says how to get the load generator when it is missing",
  ...E2E,
  async fn() {
    await using work = await tempDir();
    const result = await runCommand(Deno.execPath(), [
      "run",
      "--allow-all",
      `${PROJECT_ROOT}bench/run.ts`,
      "--quick",
      "--tools",
      join(work.path, "nothing-here"),
      "--dir",
      work.path,
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /skipped: restbench \(the native load generator\) not found/);
    assert.match(result.stderr, /skipped: the Deno\.serve ceiling skipped/);
    assert.match(result.stderr, /cannot measure without the native load generator/);
  },
});

const toolsHere = await Deno.stat(join(defaultToolsDir(), "restbench", "main.go")).then(
  () => true,
  () => false,
);
const goHere = (await runCommand("sh", ["-c", "command -v go"])).code === 0;

Deno.test({
  name: "deno task bench --quick runs every part against every server and writes the table",
  ...E2E,
  ignore: !toolsHere || !goHere,
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
        "idle RSS, objects stored MiB",
        "upload-c1 MB/s",
        "upload-c8 MB/s",
        "download-c1 MB/s",
        "download-c8 CPU s/GB",
        "range-c8 req/s",
        "small-c32 CPU µs/req",
        "list v2 s",
        "idle RSS, empty MiB",
        "restic backup s",
        "million first answer ms",
        "million v2 s",
      ]
    ) {
      assert.match(result.stdout, new RegExp(`^\\| ${row} \\|`, "m"), row);
    }
    assert.match(
      result.stdout,
      /^\| figure \| restic-rest \| ceiling \| rest-server \| rclone \|/m,
    );
    assert.match(
      result.stdout,
      /^\| small-c32 req\/s \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/m,
    );
  },
});
