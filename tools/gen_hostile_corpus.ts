/**
 * Writes tests/hostile_corpus.json: hostile requests and the statuses each may
 * get. Run `deno run --allow-write tools/gen_hostile_corpus.ts` after changing
 * the cases in tools/hostile/; the JSON is the data the test replays.
 *
 * Placeholders: `{ID}` is an existing object of user alice, `{AUTH}` in a
 * header value is alice's valid Basic credentials, `{REPEAT:text:n}` is text
 * repeated n times (so huge requests stay small in the file).
 *
 * @module
 */

// A command-line tool: printing its report is its job.
// deno-lint-ignore-file no-console

import type { HostileCase } from "./hostile/case.ts";
import { PATH_CASES } from "./hostile/paths.ts";
import { REQUEST_CASES } from "./hostile/requests.ts";

export type { HostileCase } from "./hostile/case.ts";

/**
 * Every case of the corpus.
 *
 * @returns The cases, paths first.
 */
export function hostileCases(): HostileCase[] {
  return [...PATH_CASES, ...REQUEST_CASES];
}

if (import.meta.main) {
  const cases = hostileCases();
  const file = new URL("../tests/hostile_corpus.json", import.meta.url);
  await Deno.writeTextFile(file, JSON.stringify(cases, null, 2) + "\n");
  console.log(`${cases.length} cases written to ${file.pathname}`);
}
