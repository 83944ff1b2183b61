/**
 * `deno task test` and `deno task test:fast`: `deno test` over the given
 * folders, with one object store (Swift's S3 API on loopback) started for
 * the whole run instead of one per test file; the tests reach it through
 * RESTIC_REST_TEST_SWIFT. Tests that stop their store start their own.
 *
 *   deno run -A tools/test.ts tests/            # every tier
 *   deno run -A tools/test.ts tests/unit/ tests/http/
 *
 * @module
 */

import { startSwift, type SwiftStore } from "./swift.ts";

async function succeeds(command: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

const canStore = await succeeds("/usr/bin/python3", ["-c", "import swift"]) &&
  await succeeds("sh", ["-c", "command -v memcached"]);
let store: SwiftStore | null = null;
const env: Record<string, string> = {};
if (canStore) {
  store = await startSwift();
  const { endpoint, accessKey, secretKey, region, dir } = store;
  env.RESTIC_REST_TEST_SWIFT = JSON.stringify({ endpoint, accessKey, secretKey, region, dir });
}
let code = 1;
try {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", "--parallel", ...Deno.args],
    env,
    stdin: "null",
  }).spawn();
  code = (await child.status).code;
} finally {
  await store?.remove();
}
Deno.exit(code);
