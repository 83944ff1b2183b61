/**
 * The repository's own consistency, part of `deno task check`: what must
 * agree between files agrees, and nothing points outside the checkout.
 * Prints one line per problem and exits 1 when there is any.
 *
 *   deno run --allow-read --allow-run tools/check_repo.ts
 *
 * @module
 */

// A command-line tool: printing its findings is its job.
// deno-lint-ignore-file no-console

import denoJson from "../deno.json" with { type: "json" };
import { PERMISSIONS, RUNTIME_FLAGS } from "./compile.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Each check returns the problems it found. */
const CHECKS: [string, () => Promise<string[]> | string[]][] = [
  ["tasks run with the compiled binary's permissions and V8 flags", () => {
    const problems: string[] = [];
    for (const task of ["serve", "install"] as const) {
      const words = denoJson.tasks[task].split(" ");
      for (const flag of [...PERMISSIONS, ...RUNTIME_FLAGS]) {
        if (!words.includes(flag)) problems.push(`deno task ${task} lacks ${flag}`);
      }
      if (words.includes("-A") || words.includes("--allow-all")) {
        problems.push(`deno task ${task} allows everything`);
      }
    }
    return problems;
  }],
  ["the release workflow builds every target with the pinned Deno", async () => {
    const workflow = await Deno.readTextFile(`${ROOT}.github/workflows/release.yml`);
    const problems: string[] = [];
    const targets = [
      "x86_64-unknown-linux-gnu",
      "aarch64-unknown-linux-gnu",
      "x86_64-apple-darwin",
      "aarch64-apple-darwin",
      "x86_64-pc-windows-msvc",
    ];
    for (const target of targets) {
      if (!workflow.includes(`- ${target}`)) problems.push(`release.yml does not build ${target}`);
    }
    const ci = await Deno.readTextFile(`${ROOT}.ci/run`);
    const pinned = /DENO_VERSION=(\S+)/.exec(ci)?.[1];
    if (!workflow.includes(`deno-version: v${pinned}`)) {
      problems.push(`release.yml does not use Deno ${pinned}, the version .ci/run installs`);
    }
    return problems;
  }],
  ["nothing points outside the checkout", async () => {
    const out = await new Deno.Command("git", {
      args: ["grep", "-l", "-I", "-F", ["..", "shared"].join("/")],
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
    }).output();
    return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean)
      .map((file) => `${file} names a folder outside the checkout`);
  }],
];

let failed = 0;
for (const [what, check] of CHECKS) {
  const problems = await check();
  for (const problem of problems) console.error(`check_repo: ${problem} (${what})`);
  failed += problems.length;
}
Deno.exit(failed === 0 ? 0 : 1);
