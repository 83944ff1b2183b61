/**
 * A user's common mistakes, each run through the real `main.ts` as a user
 * runs it: exit code 2, exactly one line, naming what is wrong (the file,
 * flag or value) and the fix; never a stack trace.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeCertificate } from "../helpers/tls.ts";
import { tempDir } from "../helpers/files.ts";
import { E2E, runCommand, runMain } from "../helpers/process.ts";

interface Mistake {
  name: string;
  args: string[];
  stdin?: string;
  env?: Record<string, string>;
  /** What the one line must say. */
  says: RegExp;
}

async function mountReadOnly(dir: string): Promise<boolean> {
  const mount = await runCommand("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
  if (mount.code !== 0) return false;
  await Deno.mkdir(join(dir, "data"));
  return (await runCommand("mount", ["-o", "remount,ro", dir])).code === 0;
}

Deno.test({
  ...E2E,
  name: "each common mistake: exit 2, one line that names the problem and the fix",
  async fn() {
    await using work = await tempDir();
    const w = (name: string) => join(work.path, name);
    await Deno.writeTextFile(w("a-file"), "not a folder");
    const { cert, key } = await makeCertificate(work.path);
    const plain = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response("plain HTTP"),
    );
    const readOnly = w("ro");
    await Deno.mkdir(readOnly);
    const canMount = await mountReadOnly(readOnly);
    const store = { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" };
    const mistakes: Mistake[] = [
      {
        name: "--log into a missing folder",
        args: ["serve", w("d"), "--no-auth", "--log", w("no/such/folder/access.log")],
        says: /Cannot open the access log ".*access\.log": its folder does not exist; create/,
      },
      {
        name: "a regular file given as DIR",
        args: ["serve", w("a-file"), "--no-auth"],
        says: /Cannot serve ".*a-file": it is a file, not a folder; give a folder/,
      },
      {
        name: "a data folder in a system folder",
        args: ["serve", "/proc/restic-rest/data", "--no-auth"],
        says:
          /Cannot use the data folder "\/proc\/restic-rest\/data": .*; give a folder of your own/,
      },
      {
        name: "an unknown flag from another server",
        args: ["serve", "--port", "8000"],
        says:
          /^restic-rest: Unknown option --port: did you mean --listen :PORT\? Run restic-rest serve --help/,
      },
      {
        name: "a mistyped flag",
        args: ["serve", "--privat-repos"],
        says:
          /Unknown option --privat-repos: did you mean --private-repos\? Run restic-rest serve --help/,
      },
      {
        name: "a negative duration",
        args: ["serve", "--stale-after", "-5h"],
        says: /Cannot use --stale-after "-5h": give a duration above 0/,
      },
      {
        name: "swapped TLS certificate and key",
        args: ["serve", w("d"), "--no-auth", "--tls", "--tls-cert", key, "--tls-key", cert],
        says: /holds a key and ".*" a certificate; swap --tls-cert and --tls-key/,
      },
      {
        name: "s3:// instead of restic's s3:",
        args: ["serve", "s3://my-bucket/restic", "--no-auth"],
        says: /Cannot use "s3:\/\/my-bucket\/restic": restic's syntax is s3:https:\/\/HOST/,
      },
      {
        name: "the s3 scheme in capitals",
        args: ["serve", "S3:https://store.example/bucket", "--no-auth"],
        says: /write the scheme in lower case, s3:https:\/\/HOST/,
      },
      {
        name: "another program's scheme",
        args: ["serve", "swift:container/path", "--no-auth"],
        says:
          /Cannot serve "swift:container\/path": restic-rest serves a folder or an S3-compatible store/,
      },
      {
        name: "a store that refuses the connection",
        args: ["serve", "s3:https://127.0.0.1:2/bucket", "--no-auth"],
        env: store,
        says:
          /Cannot reach the object store at https:\/\/127\.0\.0\.1:2\/bucket\/: connection refused/,
      },
      {
        name: "a store whose host does not resolve",
        args: ["serve", "s3:https://no-such-host.invalid/bucket", "--no-auth"],
        env: store,
        says: /no-such-host\.invalid.*: the host name does not resolve/,
      },
      {
        name: "https to a store that speaks plain HTTP",
        args: ["serve", `s3:https://127.0.0.1:${plain.addr.port}/bucket`, "--no-auth"],
        env: store,
        says: /it does not speak TLS there: for plain HTTP write s3:http:\/\//,
      },
      {
        name: "a password piped to user add without --password-stdin",
        args: ["user", "add", "anna", "--path", w("users")],
        stdin: "anna-pw\n",
        says: /Cannot read the password twice from a pipe: pass it once with --password-stdin/,
      },
      {
        name: "serve without users",
        args: ["serve", w("no-users")],
        says:
          /Cannot start without users: .* Create one with "restic-rest user add NAME --path .*no-users", or pass --no-auth/,
      },
    ];
    if (canMount) {
      mistakes.push({
        name: "a data folder that cannot be made (read-only file system)",
        args: ["serve", join(readOnly, "data", "new"), "--no-auth"],
        says:
          /Cannot create the data folder ".*new": the file system is read-only; create it, or give another DIR/,
      }, {
        name: "user add into a read-only folder",
        args: ["user", "add", "anna", "--path", join(readOnly, "data"), "--password-stdin"],
        stdin: "anna-pw\n",
        says: /Cannot write ".*\.htpasswd": the file system is read-only/,
      });
    } else {
      assert.notEqual(Deno.uid(), 0, "as root, a read-only tmpfs can be mounted");
    }
    const failures: string[] = [];
    try {
      for (const mistake of mistakes) {
        const result = mistake.env
          ? await runCommand(
            Deno.execPath(),
            [
              "run",
              "-A",
              new URL("../../main.ts", import.meta.url).pathname,
              ...mistake.args,
            ],
            mistake.stdin ?? "",
            mistake.env,
          )
          : await runMain(mistake.args, mistake.stdin ?? "");
        const lines = result.stderr.replace(/^Password for .*: Repeat the password: /, "").trim()
          .split("\n");
        const problems = [
          result.code !== 2 && `exit ${result.code}`,
          lines.length !== 1 && `${lines.length} lines`,
          !mistake.says.test(lines[0]) && "other words",
          /^\s+at |Uncaught|error: /m.test(result.stderr) && "a stack trace",
        ].filter(Boolean);
        if (problems.length > 0) {
          failures.push(`${mistake.name}: ${problems.join(", ")}:\n${result.stderr}`);
        }
      }
    } finally {
      await plain.shutdown();
      if (canMount) await runCommand("umount", [readOnly]);
    }
    assert.deepEqual(failures, []);
  },
});

Deno.test({
  ...E2E,
  name: "a read-only data folder is served for reads: a start-up line says so, writes answer 507",
  async fn() {
    await using work = await tempDir();
    const dir = join(work.path, "ro");
    await Deno.mkdir(dir);
    if (!(await mountReadOnly(dir))) {
      assert.notEqual(Deno.uid(), 0, "as root, a read-only tmpfs can be mounted");
      return;
    }
    try {
      const { startServerProcess } = await import("../helpers/process.ts");
      await using server = await startServerProcess([join(dir, "data"), "--no-auth"]);
      assert.ok(
        server.stderr.some((l) =>
          /^warning: the storage takes no writes \(.*read-only.*\): restic can list, read and restore/
            .test(l)
        ),
        server.stderr.join("\n"),
      );
      const create = await fetch(`${server.url}/r/?create=true`, { method: "POST" });
      assert.equal(create.status, 507);
      assert.match(await create.text(), /^Insufficient Storage: the storage takes no writes/);
      const health = await fetch(`${server.url}/healthz`);
      assert.equal(health.status, 503);
      assert.match((await health.json()).reason, /read-only/);
    } finally {
      await runCommand("umount", [dir]);
    }
  },
});

Deno.test({
  ...E2E,
  name: "the start line over TLS names https://",
  async fn() {
    await using data = await tempDir();
    await makeCertificate(data.path);
    const { startServerProcess } = await import("../helpers/process.ts");
    await using server = await startServerProcess([data.path, "--no-auth", "--tls"]);
    assert.ok(
      server.stderr.some((l) => /^start server on https:\/\/127\.0\.0\.1:\d+$/.test(l)),
      server.stderr.join("\n"),
    );
  },
});
