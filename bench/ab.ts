/**
 * `deno task ab`: two or more commits of restic-rest against each other, as
 * the project weighs competing designs. Each commit is checked out in a
 * scratch worktree and started fresh (default flags, `--no-auth`) for every
 * round, the commits in turn (every other round in reverse order), driven by
 * the same native load generator as `deno task bench`; it prints the medians
 * per commit and each one's ratio to the first.
 *
 *   deno task ab --revs 7c4b41b~1,7c4b41b --only upload-c1,upload-c8
 *   deno task ab --revs main,HEAD --only small-c32 --rounds 6
 *   deno task ab --revs A,B --blobs 48 --tools DIR
 *   deno task ab --revs A,B --only restore      # real restic: restore, check --read-data
 *
 * @module
 */

// A command-line tool: printing its report is its job.
// deno-lint-ignore-file no-console

import { join } from "node:path";
import { parseArgs } from "node:util";
import { template, withNeeds } from "./plan.ts";
import { format, medians, type Sample, samplesOf } from "./report.ts";
import { FULL, linkCopy, runScenarios, type Scale } from "./scenarios.ts";
import { startServer } from "./servers.ts";
import { restoreRun, restoreTemplate } from "./workloads.ts";
import { defaultToolsDir, findTools, type Tools } from "./tools.ts";

/** This checkout, where the worktrees are added from. */
const REPOSITORY = new URL("..", import.meta.url).pathname;

/** What one A/B run compares, and how. */
export interface AbOptions {
  revs: string[];
  only: string[];
  scale: Scale;
  tools: string;
  dir: string;
}

/**
 * Reads the command line.
 *
 * @param args The arguments after the script.
 * @returns The options.
 * @throws {Error} Without at least two revisions, or with an unknown scenario.
 */
export function abOptions(args: string[]): AbOptions {
  const { values } = parseArgs({
    args,
    options: {
      revs: { type: "string" },
      only: { type: "string" },
      rounds: { type: "string" },
      blobs: { type: "string" },
      tools: { type: "string" },
      dir: { type: "string" },
    },
  });
  const split = (text?: string) => (text ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const revs = split(values.revs);
  if (revs.length < 2) throw new Error("--revs needs two or more commits, e.g. --revs main,HEAD");
  const only = split(values.only ?? "upload-c1,upload-c8,download-c1,download-c8,small-c32");
  const unknown = only.filter((label) => !SCENARIOS.includes(label));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(", ")}: ${SCENARIOS}`);
  const scale: Scale = { ...FULL, rounds: Number(values.rounds ?? 4) };
  if (values.blobs) scale.blobs = Number(values.blobs);
  return {
    revs,
    only,
    scale,
    tools: values.tools ?? defaultToolsDir(),
    dir: values.dir ?? join("/tmp", "restic-rest-ab"),
  };
}

/** The scenario labels of `runScenarios`. */
const SCENARIOS = [
  "upload-c1",
  "upload-c8",
  "download-c1",
  "download-c8",
  "range-c8",
  "small-c32",
  "list",
  "restore",
];

async function git(args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["-C", REPOSITORY, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/** Checks each revision out into its own scratch worktree; returns their `main.ts` paths. */
async function checkouts(revs: string[], dir: string): Promise<string[]> {
  const mains: string[] = [];
  for (const [i, rev] of revs.entries()) {
    const tree = join(dir, `tree-${i}`);
    await git(["worktree", "remove", "--force", tree]).catch(() => {});
    await git(["worktree", "add", "--detach", "--force", tree, rev]);
    mains.push(join(tree, "main.ts"));
  }
  return mains;
}

/** Every round: each revision on a fresh data folder, in turn (reversed every other round). */
async function rounds(opts: AbOptions, tools: Tools, mains: string[]): Promise<Sample[]> {
  const samples: Sample[] = [];
  const restbench = tools.restbench!;
  const listRepo = opts.only.includes("list")
    ? await template(opts.dir, "list", opts.scale.listObjects)
    : null;
  const restoreData = opts.only.includes("restore")
    ? await restoreTemplate(tools, opts.scale, opts.dir, mains[0])
    : null;
  const scenarios = opts.only.filter((label) => label !== "restore");
  for (let round = 1; round <= opts.scale.rounds; round++) {
    const order = [...mains.keys()];
    if (round % 2 === 0) order.reverse();
    for (const i of order) {
      const data = join(opts.dir, "runs", `rev-${i}`);
      await Deno.remove(data, { recursive: true }).catch(() => {});
      await Deno.mkdir(data, { recursive: true });
      const repo = join(data, "bench");
      if (listRepo) await linkCopy(listRepo, repo);
      if (restoreData) await linkCopy(join(restoreData, "user"), join(data, "user"));
      const server = await startServer("restic-rest", tools, data, mains[i]);
      try {
        const seed = Date.now() % 1_000_000_000;
        const results = scenarios.length === 0 ? [] : await runScenarios(
          restbench,
          server,
          opts.scale,
          repo,
          { seed, only: withNeeds(scenarios) },
        );
        const got = results.flatMap((result) => samplesOf(opts.revs[i], result));
        if (restoreData) got.push(...await restoreRun(opts.revs[i], server, opts.dir));
        samples.push(...got);
        // Each round's headline figures, so a bimodal scenario shows (medians hide it).
        const headline = got.filter((s) => /(MB\/s|req\/s|v2 s|CPU .*|^user .*)$/.test(s.row));
        console.error(
          `round ${round}: ${opts.revs[i]}: ` +
            headline.map((s) => `${s.row} ${format(s.value)}`).join(", "),
        );
      } finally {
        await server.stop();
        await Deno.remove(data, { recursive: true }).catch(() => {});
      }
    }
  }
  return samples;
}

/**
 * A Markdown table: one row per figure, one column per revision (medians),
 * and each later revision's ratio to the first.
 *
 * @param samples Every sample, `kind` being the revision.
 * @param revs The revisions, the first being the base.
 * @returns The table.
 */
export function abTable(samples: Sample[], revs: string[]): string {
  const median = medians(samples);
  const rows = [...new Set(samples.map((s) => s.row))];
  const later = revs.slice(1);
  const lines = [
    `| figure | ${revs.join(" | ")} | ${later.map((r) => `${r} / ${revs[0]}`).join(" | ")} |`,
    `| --- | ${revs.map(() => "---:").join(" | ")} | ${later.map(() => "---:").join(" | ")} |`,
  ];
  for (const row of rows) {
    const values = revs.map((rev) => median.get(`${rev}\u0000${row}`));
    const base = values[0];
    const ratios = values.slice(1).map((v) =>
      v === undefined || base === undefined || base === 0 ? "" : `${(v / base).toFixed(2)}×`
    );
    const cells = values.map((v) => (v === undefined ? "" : format(v)));
    lines.push(`| ${row} | ${cells.join(" | ")} | ${ratios.join(" | ")} |`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const opts = abOptions(Deno.args);
  await Deno.mkdir(opts.dir, { recursive: true });
  const tools = await findTools(opts.tools, opts.dir);
  if (!tools.restbench) {
    for (const note of tools.notes) console.error(note);
    console.error("cannot measure without the native load generator (see above)");
    Deno.exit(1);
  }
  const mains = await checkouts(opts.revs, opts.dir);
  try {
    const samples = await rounds(opts, tools, mains);
    console.log(
      `Medians of ${opts.scale.rounds} interleaved round(s), ${opts.scale.blobs} blobs ` +
        `of ${opts.scale.blobMib} MiB: \`deno task ab ${Deno.args.join(" ")}\`\n`,
    );
    console.log(abTable(samples, opts.revs));
  } finally {
    for (const main of mains) await git(["worktree", "remove", "--force", join(main, "..")]);
  }
}
