/** The project's own gate: formatting, lint and type check are part of the test run. */
import assert from "node:assert/strict";
import { PROJECT_ROOT } from "./_helpers.ts";

async function deno(args: string[]): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: PROJECT_ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

Deno.test("deno fmt --check finds nothing to reformat", async () => {
  const { code, output } = await deno(["fmt", "--check"]);
  assert.equal(code, 0, output);
});

Deno.test("deno lint finds no problems", async () => {
  const { code, output } = await deno(["lint"]);
  assert.equal(code, 0, output);
});

Deno.test("deno check passes for main.ts, lib/ and tests/", async () => {
  const { code, output } = await deno(["check", "main.ts", "lib/", "tests/"]);
  assert.equal(code, 0, output);
});
