/**
 * `deno task soak`: the crash test at length, 100 SIGKILLs of the server
 * during real restic backups (or --kills N), with a report at the end.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runCrashCycles } from "../tests/helpers/crash.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { kills: { type: "string", default: "100" }, seed: { type: "string" } },
});
const seed = Number(values.seed ?? Date.now() % 2 ** 31);
const work = await Deno.makeTempDir({ prefix: "restic-rest-soak-" });
const print = (line: string): void =>
  void Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
print(`soak: ${values.kills} kills, seed ${seed}, scratch ${work}`);
try {
  const report = await runCrashCycles({ kills: Number(values.kills), seed, work, log: print });
  const ok = report.corruptObjects.length === 0 && report.tempFilesAfterRestart === 0 &&
    report.tempNamesListed === 0 && report.check.code === 0;
  print(JSON.stringify({ ...report, check: { code: report.check.code } }, null, 2));
  print(report.check.output.trim().split("\n").slice(-2).join("\n"));
  print(ok ? "soak: PASS" : "soak: FAIL");
  Deno.exit(ok ? 0 : 1);
} finally {
  await Deno.remove(work, { recursive: true }).catch(() => {});
}
