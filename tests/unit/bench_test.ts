/**
 * The benchmark harness: its report (medians, target ratios) from recorded
 * results, what it says when an instrument is missing, and, where the native
 * load generator can be built here, `--quick` end to end. Structure only,
 * never timing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { abOptions, abTable } from "../../bench/ab.ts";
import { medians, samplesOf, table } from "../../bench/report.ts";
import { defaultToolsDir } from "../../bench/tools.ts";
import { PROJECT_ROOT, tempDir } from "../helpers/files.ts";
import { E2E, runCommand } from "../helpers/process.ts";

const UPLOAD = {
  scenario: "upload",
  label: "upload-c8",
  MB_s: 400,
  p50_ms: 10,
  p99_ms: 20,
  blobs: 64,
  blob_mib: 16,
  server_cpu_s: 2,
  server_vmhwm_kb: 80 * 1024,
};

Deno.test("samplesOf() turns a load-generator result into throughput, latency, CPU and memory", () => {
  const samples = samplesOf("restic-rest", UPLOAD);
  const byRow = Object.fromEntries(samples.map((s) => [s.row, s.value]));
  assert.equal(byRow["upload-c8 MB/s"], 400);
  assert.equal(byRow["upload-c8 p99 ms"], 20);
  assert.ok(Math.abs(byRow["upload-c8 CPU s/GB"] - 2 / (64 * 16 * 2 ** 20 / 1e9)) < 1e-9);
  assert.equal(byRow["upload-c8 peak RSS MiB"], 80);
  assert.deepEqual(samplesOf("x", { label: "upload-c8", error: "HTTP 500" }), []);
});

Deno.test("table() gives medians over rounds and judges each target against the same run", () => {
  const samples = [
    ...samplesOf("restic-rest", UPLOAD),
    ...samplesOf("restic-rest", { ...UPLOAD, MB_s: 420 }),
    ...samplesOf("restic-rest", { ...UPLOAD, MB_s: 380 }),
    ...samplesOf("ceiling", { ...UPLOAD, MB_s: 500 }),
    ...samplesOf("restic-rest+auth+log", { ...UPLOAD, MB_s: 300 }),
  ];
  assert.equal(medians(samples).get("restic-rest\u0000upload-c8 MB/s"), 400);
  const text = table(samples);
  assert.match(
    text,
    /^\| upload-c8 MB\/s \| 400 \| 500 \| 300 \| ≥ 0\.9× ceiling \| 0\.80× \| \*\*no\*\* \|$/m,
  );
  assert.match(text, /\| \+auth\+log ≥ 0\.9× no auth \| 0\.75× \| \*\*no\*\* \|$/m);
  assert.match(text, /^\| upload-c8 peak RSS MiB \| 80\.0 .*\| ≤ 96 MiB \| 80\.0 \| yes \|$/m);
});

Deno.test("abTable() gives each commit's medians and its ratio to the first", () => {
  const samples = [
    ...samplesOf("old", UPLOAD),
    ...samplesOf("old", { ...UPLOAD, MB_s: 300 }),
    ...samplesOf("old", { ...UPLOAD, MB_s: 500 }),
    ...samplesOf("new", { ...UPLOAD, MB_s: 440, server_cpu_s: 1.6 }),
  ];
  const text = abTable(samples, ["old", "new"]);
  assert.match(text, /^\| figure \| old \| new \| new \/ old \|$/m);
  assert.match(text, /^\| upload-c8 MB\/s \| 400 \| 440 \| 1\.10× \|$/m);
  assert.match(text, /^\| upload-c8 CPU s\/GB \| [\d.]+ \| [\d.]+ \| 0\.80× \|$/m);
});

Deno.test("deno task ab needs two commits and known scenarios", () => {
  assert.throws(() => abOptions(["--revs", "main"]), /two or more commits/);
  assert.throws(() => abOptions(["--revs", "a,b", "--only", "upload-c3"]), /unknown scenario/);
  const opts = abOptions(["--revs", "a,b", "--only", "small-c32", "--rounds", "6"]);
  assert.deepEqual([opts.revs, opts.only, opts.scale.rounds], [["a", "b"], ["small-c32"], 6]);
});

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
