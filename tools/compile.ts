/**
 * Builds the single executable with the permissions the server needs baked
 * in. One place for the flags: `deno task compile` and the release workflow
 * both run this.
 *
 *   deno task compile                               # ./restic-rest for this machine
 *   deno task compile --target aarch64-apple-darwin --output dist/restic-rest-aarch64-apple-darwin
 *
 * @module
 */

import { parseArgs } from "node:util";

/**
 * What the server touches: sockets, its data directory and files, RESTIC_REST_*
 * variables, and the free space of the disk (statfs) for the status page.
 */
export const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys=statfs",
];

/**
 * V8 settings for a small footprint:
 * - a 1 MiB young generation is collected often, so the buffers of finished
 *   requests are freed before they pile up (peak RSS about 30% lower in the
 *   benchmark, same throughput);
 * - an old generation of at most 512 MiB (the server's live data is a few
 *   MiB): V8 sizes its growth by that limit, and with the default (a share
 *   of the machine's RAM) a listing of a million objects grew the process
 *   to 83-87 MiB against 69-70 MiB, in the same 4.9-5.2 s;
 * - `gc` exposed, so long walks can give their garbage back (`lib/storage/fs/scan.ts`).
 * The serve task in deno.json repeats these flags; a test keeps them equal.
 */
export const RUNTIME_FLAGS = [
  "--v8-flags=--max-semi-space-size=1,--max-old-space-size=512,--expose-gc",
];

/**
 * Modules started as Workers: `deno compile` only follows imports, so each
 * must be named with `--include` (a test checks this list against lib/).
 */
export const WORKER_MODULES = ["lib/auth/verify_worker.ts"];

/**
 * The `deno compile` arguments for a target.
 *
 * @param target A Rust target triple, or `null` for this machine.
 * @param output The executable's path.
 * @returns The arguments after `deno`.
 */
export function compileArgs(target: string | null, output: string): string[] {
  return [
    "compile",
    ...PERMISSIONS,
    ...RUNTIME_FLAGS,
    "--no-check=remote",
    // Only the npm packages the program reaches (the lockfile may hold others).
    "--exclude-unused-npm",
    ...WORKER_MODULES.flatMap((module) => [
      "--include",
      new URL(`../${module}`, import.meta.url).pathname,
    ]),
    ...(target ? ["--target", target] : []),
    "--output",
    output,
    new URL("../main.ts", import.meta.url).pathname,
  ];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { target: { type: "string" }, output: { type: "string", default: "restic-rest" } },
  });
  const args = compileArgs(values.target ?? null, values.output!);
  Deno.stderr.writeSync(new TextEncoder().encode(`deno ${args.join(" ")}\n`));
  const { code } = await new Deno.Command(Deno.execPath(), { args }).spawn().status;
  Deno.exit(code);
}
