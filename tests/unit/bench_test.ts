/**
 * The benchmark harness's report (medians, target ratios) from recorded
 * results, and its options. Structure only, never timing.
 */
import assert from "node:assert/strict";
import { abOptions, abTable } from "../../bench/ab.ts";
import { medians, samplesOf, table } from "../../bench/report.ts";

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
