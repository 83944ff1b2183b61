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
  ["every way to run the program uses the compiled binary's permissions and V8 flags", async () => {
    const problems: string[] = [];
    // tools/install.ts imports the lists; these two repeat them.
    const runners: [string, string][] = [
      ["deno task serve", denoJson.tasks.serve],
      ["bin/restic-rest.cjs", await Deno.readTextFile(`${ROOT}bin/restic-rest.cjs`)],
    ];
    for (const [where, text] of runners) {
      const uses = where === "deno task serve"
        ? (flag: string) => text.split(" ").includes(flag)
        : (flag: string) => text.includes(`"${flag}"`);
      for (const flag of [...PERMISSIONS, ...RUNTIME_FLAGS]) {
        if (!uses(flag)) problems.push(`${where} lacks ${flag}`);
      }
      if (/(^|\s|")(-A|--allow-all)(\s|"|$)/.test(text)) {
        problems.push(`${where} allows everything`);
      }
    }
    return problems;
  }],
  ["the npm package matches deno.json: version and dependencies", async () => {
    const pkg = JSON.parse(await Deno.readTextFile(`${ROOT}package.json`));
    const problems: string[] = [];
    if (pkg.version !== denoJson.version) {
      problems.push(`package.json is ${pkg.version}, deno.json ${denoJson.version}`);
    }
    const imports = denoJson.imports as Record<string, string>;
    for (const [name, specifier] of Object.entries(imports)) {
      const pinned = /^npm:(.+)@([^@]+)$/.exec(specifier)?.[2];
      if (pkg.dependencies?.[name] !== pinned) {
        problems.push(`package.json should depend on ${name} ${pinned}`);
      }
    }
    const ci = await Deno.readTextFile(`${ROOT}.ci/run`);
    const pinnedDeno = /DENO_VERSION=(\S+)/.exec(ci)?.[1];
    if (pkg.peerDependencies?.deno !== pinnedDeno) {
      problems.push(`package.json should need deno ${pinnedDeno}, the version .ci/run installs`);
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
  ["the README stays short and its links lead somewhere", async () => {
    const readme = await Deno.readTextFile(`${ROOT}README.md`);
    const problems: string[] = [];
    const bytes = new TextEncoder().encode(readme).length;
    if (bytes > 16 * 1024) problems.push(`README.md is ${bytes} bytes; move detail to docs/`);
    for (const [, target] of readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const found = await Deno.stat(`${ROOT}${target}`).then(() => true, () => false);
      if (!found) problems.push(`README.md links to ${target}, which is not there`);
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
