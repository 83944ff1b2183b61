/** The release pieces that cannot run here still have to be right. */
import assert from "node:assert/strict";
import { parseCommand } from "../../lib/cli/command.ts";
import { compileArgs, PERMISSIONS, RUNTIME_FLAGS, WORKER_MODULES } from "../../tools/compile.ts";
import { PROJECT_ROOT } from "../helpers/files.ts";

const unit = await Deno.readTextFile(`${PROJECT_ROOT}examples/restic-rest.service`);

function directive(name: string): string | undefined {
  return unit.split("\n").find((line) => line.startsWith(`${name}=`))?.slice(name.length + 1);
}

Deno.test("the systemd unit is hardened: own user, read-only system, one writable path, umask 077", () => {
  assert.equal(directive("User"), "restic-rest");
  assert.equal(directive("ProtectSystem"), "strict");
  assert.equal(directive("ReadWritePaths"), "/var/lib/restic-rest");
  assert.equal(directive("NoNewPrivileges"), "yes");
  assert.equal(directive("UMask"), "077");
  assert.equal(directive("ProtectHome"), "yes");
  assert.equal(directive("CapabilityBoundingSet"), "");
  assert.equal(directive("MemoryDenyWriteExecute"), undefined, "V8 needs W+X memory");
});

Deno.test("the systemd unit's command line is one restic-rest accepts, serving the writable path", () => {
  const [binary, ...args] = directive("ExecStart")!.split(" ");
  assert.equal(binary, "/usr/local/bin/restic-rest");
  const command = parseCommand(args, {});
  assert.equal(command.kind, "serve");
  assert.ok(command.kind === "serve" && command.config.dataDir === directive("ReadWritePaths"));
});

Deno.test({
  name: "systemd-analyze verify accepts the unit",
  ignore:
    (await new Deno.Command("sh", { args: ["-c", "command -v systemd-analyze"] }).output()).code !==
      0,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      // The binary is not installed here: point ExecStart at an executable that exists.
      const copy = unit.replace("/usr/local/bin/restic-rest serve", "/bin/true serve");
      await Deno.writeTextFile(`${dir}/restic-rest.service`, copy);
      const out = await new Deno.Command("systemd-analyze", {
        args: ["verify", `${dir}/restic-rest.service`],
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      assert.doesNotMatch(
        stderr,
        /restic-rest\.service:\d+:/,
        "no complaint about a line of the unit",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("compileArgs() bakes in exactly the permissions the server needs", () => {
  assert.deepEqual(PERMISSIONS, [
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys=statfs",
  ]);
  const args = compileArgs("aarch64-apple-darwin", "dist/x");
  assert.deepEqual(args.slice(0, 7), ["compile", ...PERMISSIONS, ...RUNTIME_FLAGS]);
  assert.ok(args.join(" ").includes("--target aarch64-apple-darwin --output dist/x"));
  assert.ok(args.at(-1)!.endsWith("/main.ts"));
  assert.ok(!args.includes("--allow-all") && !args.includes("-A"));
});

Deno.test("compileArgs() includes every module that lib/ starts as a Worker", async () => {
  const started: string[] = [];
  const visit = async (folder: string): Promise<void> => {
    for await (const entry of Deno.readDir(`${PROJECT_ROOT}${folder}`)) {
      if (entry.isDirectory) await visit(`${folder}/${entry.name}`);
      if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
      const text = await Deno.readTextFile(`${PROJECT_ROOT}${folder}/${entry.name}`);
      for (
        const match of text.matchAll(/new Worker\(\s*new URL\("\.\/([^"]+)", import\.meta\.url\)/g)
      ) {
        started.push(`${folder}/${match[1]}`);
      }
    }
  };
  await visit("lib");
  assert.ok(started.length > 0, "the password checks start a worker");
  assert.deepEqual(started.sort(), [...WORKER_MODULES].sort());
  const args = compileArgs(null, "restic-rest").join(" ");
  for (const module of WORKER_MODULES) {
    assert.ok(args.includes(`--include ${PROJECT_ROOT}${module}`), module);
  }
});
