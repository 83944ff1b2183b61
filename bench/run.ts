/**
 * `deno task bench`: restic-rest beside the Deno.serve ceiling, rest-server
 * 0.14 and `rclone serve restic`, all driven by the same native load
 * generator on loopback, fresh servers, interleaved over rounds (the second
 * in reverse order), medians and target ratios from the one run.
 *
 *   deno task bench                 # the full run (about 25 minutes, 10 GiB of scratch disk)
 *   deno task bench --quick         # every scenario at toy sizes, to check the harness
 *   deno task bench --rounds 3      # more rounds
 *   deno task bench --only small-c32,upload-c8   # some scenarios only
 *   deno task bench --servers restic-rest,ceiling # some servers only
 *   deno task bench --tools DIR     # where restbench/, deno-ceiling/ and ../peers/ are
 *   deno task bench --dir DIR       # scratch space (default: a folder in /tmp, kept between runs)
 *
 * Prints one Markdown table and writes it, with the machine's description,
 * to bench/results/latest.md (full runs) or quick.md / partial.md.
 *
 * @module
 */

// A command-line tool: printing its report is its job.
// deno-lint-ignore-file no-console

import { join } from "node:path";
import { parseArgs } from "node:util";
import { table } from "./report.ts";
import { FULL, QUICK, type Scale } from "./scenarios.ts";
import { describeMachine, runAll } from "./plan.ts";
import { defaultToolsDir, findTools } from "./tools.ts";

function options() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      rounds: { type: "string" },
      only: { type: "string" },
      tools: { type: "string" },
      dir: { type: "string" },
      servers: { type: "string" },
    },
  });
  const scale: Scale = { ...(values.quick ? QUICK : FULL) };
  if (values.rounds) scale.rounds = Number(values.rounds);
  return {
    quick: values.quick ?? false,
    scale,
    only: values.only?.split(",").map((s) => s.trim()).filter(Boolean),
    tools: values.tools ?? defaultToolsDir(),
    servers: values.servers?.split(",").map((s) => s.trim()).filter(Boolean),
    dir: values.dir ?? join("/tmp", "restic-rest-bench"),
  };
}

if (import.meta.main) {
  const opts = options();
  await Deno.mkdir(opts.dir, { recursive: true });
  const tools = { ...await findTools(opts.tools, opts.dir), servers: opts.servers };
  for (const note of tools.notes) console.error(`skipped: ${note}`);
  if (!tools.restbench) {
    console.error("cannot measure without the native load generator (see above)");
    Deno.exit(1);
  }
  const samples = await runAll(tools, opts.scale, opts.dir, opts.only);
  const command = `deno task bench${opts.quick ? " --quick" : ""}` +
    (opts.only ? ` --only ${opts.only.join(",")}` : "") +
    (opts.scale.rounds !== (opts.quick ? QUICK : FULL).rounds
      ? ` --rounds ${opts.scale.rounds}`
      : "");
  const report = [
    `# Benchmark: \`${command}\``,
    "",
    "```",
    await describeMachine(tools),
    "```",
    "",
    `Medians of ${opts.scale.rounds} interleaved round(s); ${opts.scale.blobs} blobs of ` +
    `${opts.scale.blobMib} MiB, ${opts.scale.listObjects} objects listed and stored for the idle ` +
    `figure, ${opts.scale.millionObjects} for the "million" rows, a ${opts.scale.resticMib} MiB restic backup.`,
    ...tools.notes.map((note) => `Skipped: ${note}.`),
    "",
    table(samples),
    "",
  ].join("\n");
  console.log(report);
  const name = opts.quick ? "quick.md" : opts.only ? "partial.md" : "latest.md";
  await Deno.writeTextFile(new URL(`./results/${name}`, import.meta.url), report);
}
