/**
 * Crash cycles: real `restic backup` runs against the server while the server
 * is killed with SIGKILL at random moments and restarted on the same port.
 * Used by tests/crash_test.ts (20 kills) and `deno task soak` (100 kills).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { isObjectName, TEMP_FILE_PREFIX } from "../../lib/base/restic.ts";
import { eventually, listFiles, seededRandom } from "./files.ts";
import { type ServerProcess, startServerProcess } from "./process.ts";
import { freePort } from "../../tools/ports.ts";

/** What a crash run found. */
export interface CrashReport {
  kills: number;
  /** Temp files found right after a kill (crash leftovers). */
  leftoverTempFiles: number;
  /**
   * Temp files left by a kill that are still there after the restart (must
   * be 0). New temp files of uploads that restic resumed do not count.
   */
  tempFilesAfterRestart: number;
  /** Visible objects whose content does not hash to their name (must be 0). */
  corruptObjects: string[];
  /** Temp names that appeared in a listing (must be 0). */
  tempNamesListed: number;
  /** restic backups that finished despite the kills / that gave up. */
  backupsCompleted: number;
  backupsFailed: number;
  /** The output of the final `restic check --read-data`. */
  check: { code: number; output: string };
}

async function tempFileNames(dir: string): Promise<string[]> {
  return (await listFiles(dir)).filter((f) => f.split("/").pop()!.startsWith(TEMP_FILE_PREFIX));
}

/** Hashes every visible object not checked before; returns the names that do not match. */
async function verifyObjects(repoDir: string, checked: Set<string>): Promise<string[]> {
  const corrupt: string[] = [];
  for (const file of await listFiles(repoDir)) {
    const name = file.split("/").pop()!;
    if (!isObjectName(name) || checked.has(file)) continue;
    const data = await Deno.readFile(join(repoDir, file)).catch(() => null);
    if (data === null) continue; // deleted meanwhile (locks)
    if (createHash("sha256").update(data).digest("hex") !== name) corrupt.push(file);
    else checked.add(file);
  }
  return corrupt;
}

async function addData(source: string, round: number, random: () => number): Promise<void> {
  const dir = join(source, `round-${round}`);
  await Deno.mkdir(dir, { recursive: true });
  for (let i = 0; i < 4; i++) {
    const data = new Uint8Array(512 * 1024 + Math.floor(random() * 2 * 1024 * 1024));
    for (let o = 0; o < data.length; o += 65536) {
      crypto.getRandomValues(data.subarray(o, o + 65536));
    }
    await Deno.writeFile(join(dir, `big-${i}.bin`), data);
  }
  for (let i = 0; i < 30; i++) {
    await Deno.writeTextFile(join(dir, `small-${i}.txt`), `${round} ${i} ${random()}\n`);
  }
}

function restic(repo: string, args: string[], cache: string): Deno.Command {
  return new Deno.Command("restic", {
    args: ["-r", repo, ...args],
    env: { RESTIC_PASSWORD: "crash-test", RESTIC_CACHE_DIR: cache },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * Runs `kills` crash cycles and a final check.
 *
 * @param options How many kills, a seed, a scratch folder and a progress log.
 * @returns What was found.
 */
export async function runCrashCycles(options: {
  kills: number;
  seed: number;
  work: string;
  log?: (line: string) => void;
}): Promise<CrashReport> {
  const { kills, work } = options;
  const log = options.log ?? (() => {});
  const random = seededRandom(options.seed);
  const dataDir = join(work, "data");
  const source = join(work, "source");
  const cache = join(work, "cache");
  await Deno.mkdir(dataDir, { recursive: true });
  await Deno.mkdir(source, { recursive: true });
  const port = freePort();
  const repo = `rest:http://127.0.0.1:${port}/crash/`;
  const report: CrashReport = {
    kills: 0,
    leftoverTempFiles: 0,
    tempFilesAfterRestart: 0,
    corruptObjects: [],
    tempNamesListed: 0,
    backupsCompleted: 0,
    backupsFailed: 0,
    check: { code: -1, output: "" },
  };
  const checked = new Set<string>();
  const start = (): Promise<ServerProcess> =>
    startServerProcess([dataDir, "--no-auth", "--listen", `127.0.0.1:${port}`]);
  let server = await start();
  try {
    const init = await restic(repo, ["init"], cache).output();
    if (init.code !== 0) throw new Error(`init failed: ${new TextDecoder().decode(init.stderr)}`);
    for (let round = 0; round < kills; round++) {
      await addData(source, round, random);
      const backup = restic(repo, ["backup", "--quiet", source], cache).spawn();
      await new Promise((r) => setTimeout(r, 100 + random() * 900));
      await server.stop("SIGKILL");
      report.kills++;
      const leftovers = await tempFileNames(dataDir);
      report.leftoverTempFiles += leftovers.length;
      server = await start();
      // Leftovers go in the start-up scan, which runs while the server already answers.
      const counted = await eventually(async () => {
        const health = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.json());
        return health.inventory === "complete";
      }, 30_000);
      if (!counted) throw new Error("the start-up scan did not complete in 30 s");
      const now = new Set(await tempFileNames(dataDir));
      report.tempFilesAfterRestart += leftovers.filter((name) => now.has(name)).length;
      for (const type of ["data", "index", "snapshots", "keys", "locks"]) {
        const names: unknown = await fetch(`http://127.0.0.1:${port}/crash/${type}/`).then((r) =>
          r.json()
        );
        if (Array.isArray(names)) {
          report.tempNamesListed += names.filter((n) =>
            typeof n !== "string" || !isObjectName(n)
          ).length;
        }
      }
      report.corruptObjects.push(...await verifyObjects(join(dataDir, "crash"), checked));
      const result = await backup.output();
      if (result.code === 0) report.backupsCompleted++;
      else report.backupsFailed++;
      log(
        `kill ${
          round + 1
        }/${kills}: backup exit ${result.code}, leftovers so far ${report.leftoverTempFiles}`,
      );
    }
    await restic(repo, ["unlock"], cache).output();
    const final = await restic(repo, ["backup", "--quiet", source], cache).output();
    if (final.code !== 0) {
      throw new Error(`final backup failed: ${new TextDecoder().decode(final.stderr)}`);
    }
    const check = await restic(repo, ["check", "--read-data"], cache).output();
    const decoder = new TextDecoder();
    report.check = {
      code: check.code,
      output: decoder.decode(check.stdout) + decoder.decode(check.stderr),
    };
    report.corruptObjects.push(...await verifyObjects(join(dataDir, "crash"), checked));
  } finally {
    await server.stop("SIGKILL");
  }
  return report;
}
