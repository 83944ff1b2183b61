/**
 * The container image as the README runs it, checked here without a Docker
 * engine: the Dockerfile's entrypoint and default command, and the
 * argument lists the README passes after the image name, run through
 * `main.ts` as the binary would run them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT, tempDir } from "../helpers/files.ts";
import { E2E, runMain } from "../helpers/process.ts";

const dockerfile = await Deno.readTextFile(join(PROJECT_ROOT, "Dockerfile"));
const jsonArgs = (instruction: string): string[] =>
  JSON.parse(new RegExp(`^${instruction} (\\[.*\\])$`, "m").exec(dockerfile)?.[1] ?? "null");

/** An argument list of the image with /data (the volume) made a temp folder. */
function onVolume(args: string[], data: string): string[] {
  return args.map((arg) => arg === "/data" ? data : arg).map((a) =>
    a === ":8000" ? "127.0.0.1:0" : a
  );
}

Deno.test("Dockerfile: the binary is the entrypoint, serve /data on :8000 the default command", () => {
  assert.deepEqual(jsonArgs("ENTRYPOINT"), ["/usr/local/bin/restic-rest"]);
  assert.deepEqual(jsonArgs("CMD"), ["serve", "/data", "--listen", ":8000"]);
  assert.match(dockerfile, /^FROM gcr\.io\/distroless\/cc-debian12:nonroot$/m);
  assert.match(dockerfile, /^VOLUME \/data$/m);
  assert.match(
    dockerfile,
    /^COPY --from=build --chown=65532:65532 \S+ \/data$/m,
    "nonroot owns it",
  );
});

Deno.test({
  ...E2E,
  name: "the README's container commands: a first start says how to add a user; user add works",
  async fn() {
    await using data = await tempDir();
    const first = await runMain(onVolume(jsonArgs("CMD"), data.path));
    assert.equal(first.code, 2);
    const lines = first.stderr.trim().split("\n");
    assert.equal(lines.length, 1, first.stderr);
    assert.match(lines[0], new RegExp(`restic-rest user add NAME --path ${data.path}`));
    const added = await runMain(
      onVolume(["user", "add", "anna", "--path", "/data", "--password-stdin"], data.path),
      "anna-pw\n",
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(await Deno.readTextFile(join(data.path, ".htpasswd")), /^anna:\$2y\$/m);
    const help = await runMain(["serve", "/data", "--no-auth", "--help"]);
    assert.equal(help.code, 0, "flags after the image name replace the default command");
  },
});
