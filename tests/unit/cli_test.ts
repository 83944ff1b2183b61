import assert from "node:assert/strict";
import { parseCommand } from "../../lib/cli/command.ts";
import { VERSION } from "../../lib/base/version.ts";
import { ConfigError } from "../../lib/base/errors.ts";
import { formatAddress, parseListen } from "../../lib/cli/listen.ts";
import denoJson from "../../deno.json" with { type: "json" };

function serve(args: string[], env: Record<string, string> = {}) {
  const command = parseCommand(args, env);
  assert.equal(command.kind, "serve");
  if (command.kind !== "serve") throw new Error("unreachable");
  return command.config;
}

Deno.test("parseCommand() serve defaults: ./restic-data on :8000, auth on, verification on", () => {
  const config = serve(["serve"]);
  assert.equal(config.dataDir, "./restic-data");
  assert.deepEqual(config.listen, { transport: "tcp", hostname: "0.0.0.0", port: 8000 });
  assert.equal(config.noAuth, false);
  assert.equal(config.verifyUpload, true);
  assert.equal(config.htpasswdFile, "restic-data/.htpasswd");
  assert.equal(config.shutdownTimeoutSeconds, 10);
});

Deno.test("parseCommand() takes the directory as argument or as rest-server's --path", () => {
  assert.equal(serve(["serve", "/srv/r"]).dataDir, "/srv/r");
  assert.equal(serve(["serve", "--path", "/srv/p"]).dataDir, "/srv/p");
  assert.equal(serve(["--path", "/srv/p", "--no-auth"]).dataDir, "/srv/p", "no sub-command");
  assert.equal(serve([]).dataDir, "./restic-data");
  assert.throws(() => serve(["serve", "/a", "--path", "/b"]), ConfigError);
  assert.throws(() => serve(["serve", "/a", "/b"]), ConfigError);
});

Deno.test("parseCommand() reads flags and their RESTIC_REST_* environment variables", () => {
  const config = serve([
    "serve",
    "--listen",
    "127.0.0.1:9000",
    "--no-verify-upload",
    "--append-only",
  ]);
  assert.deepEqual(config.listen, { transport: "tcp", hostname: "127.0.0.1", port: 9000 });
  assert.equal(config.verifyUpload, false);
  assert.equal(config.appendOnly, true);
  const fromEnv = serve(["serve"], {
    RESTIC_REST_LISTEN: ":9999",
    RESTIC_REST_NO_AUTH: "true",
    RESTIC_REST_PATH: "/env/dir",
  });
  assert.equal(fromEnv.listen.transport === "tcp" && fromEnv.listen.port, 9999);
  assert.equal(fromEnv.noAuth, true);
  assert.equal(fromEnv.dataDir, "/env/dir");
  assert.equal(serve(["serve", "/arg"], { RESTIC_REST_PATH: "/env" }).dataDir, "/arg");
  assert.deepEqual(serve(["serve", "--listen", ":1"], { RESTIC_REST_LISTEN: ":2" }).listen, {
    transport: "tcp",
    hostname: "0.0.0.0",
    port: 1,
  });
  assert.throws(() => serve(["serve"], { RESTIC_REST_NO_AUTH: "maybe" }), ConfigError);
});

Deno.test("parseCommand() connection timeouts: defaults, flags, environment, refusals", () => {
  const defaults = serve(["serve"]);
  assert.equal(defaults.headerTimeoutSeconds, 30);
  assert.equal(defaults.keepAliveTimeoutSeconds, 120);
  assert.equal(defaults.idleTimeoutSeconds, 60);
  const set = serve(["serve", "--header-timeout", "2.5", "--keepalive-timeout", "7"]);
  assert.equal(set.headerTimeoutSeconds, 2.5);
  assert.equal(set.keepAliveTimeoutSeconds, 7);
  assert.equal(serve(["serve"], { RESTIC_REST_HEADER_TIMEOUT: "0" }).headerTimeoutSeconds, 0);
  assert.equal(
    serve(["serve", "--header-timeout", "0", "--keepalive-timeout", "0"]).keepAliveTimeoutSeconds,
    0,
    "no rule at all",
  );
  assert.equal(serve(["serve", "--keepalive-timeout", "0"]).keepAliveTimeoutSeconds, 0, "kept");
  assert.equal(
    serve(["serve", "--header-timeout", "0", "--max-connections", "9"]).maxConnections,
    9,
    "each rule on its own",
  );
  assert.throws(() => serve(["serve", "--header-timeout=-1"]), /give seconds/);
  assert.throws(() => serve(["serve", "--header-timeout", "soon"]), /give seconds/);
  assert.equal(defaults.maxConnections, 200);
  assert.equal(serve(["serve", "--max-connections", "1000"]).maxConnections, 1000);
  assert.throws(() => serve(["serve", "--max-connections", "0"]), /whole number above 0/);
  assert.throws(() => serve(["serve", "--max-connections", "2.5"]), /whole number above 0/);
});

Deno.test("parseCommand() refuses unknown flags, commands and bad values with one line", () => {
  for (
    const args of [["serve", "--bogus"], ["frobnicate"], ["serve", "--listen", "nope"], [
      "serve",
      "--shutdown-timeout",
      "-1",
    ]]
  ) {
    assert.throws(() => parseCommand(args, {}), (err) => {
      assert.ok(err instanceof ConfigError);
      assert.ok(!err.message.includes("\n"), err.message);
      return true;
    });
  }
});

Deno.test("parseCommand() refuses --policy with --no-auth before reading the policy file", () => {
  assert.throws(() => serve(["serve", "--no-auth", "--policy", "/no/such/file"]), /--no-auth/);
});

Deno.test("parseCommand() --help and --version", () => {
  const help = parseCommand(["--help"], {});
  assert.equal(help.kind, "help");
  assert.match(help.kind === "help" ? help.text : "", /--no-auth/);
  assert.equal(parseCommand(["serve", "-h"], {}).kind, "help");
  const version = parseCommand(["--version"], {});
  assert.deepEqual(version, { kind: "version", text: `restic-rest ${denoJson.version}` });
  assert.equal(VERSION, denoJson.version);
});

const LISTEN_CASES: [string, ReturnType<typeof parseListen> | null][] = [
  [":8000", { transport: "tcp", hostname: "0.0.0.0", port: 8000 }],
  ["127.0.0.1:0", { transport: "tcp", hostname: "127.0.0.1", port: 0 }],
  ["localhost:80", { transport: "tcp", hostname: "localhost", port: 80 }],
  ["[::1]:8000", { transport: "tcp", hostname: "::1", port: 8000 }],
  ["[::]:1", { transport: "tcp", hostname: "::", port: 1 }],
  ["unix:/run/restic.sock", { transport: "unix", path: "/run/restic.sock" }],
  ["8000", null],
  [":65536", null],
  ["::1:8000", null],
  ["host:", null],
  ["unix:", null],
];
for (const [value, expected] of LISTEN_CASES) {
  Deno.test(`parseListen() ${JSON.stringify(value)}`, () => {
    if (expected) assert.deepEqual(parseListen(value), expected);
    else assert.throws(() => parseListen(value), ConfigError);
  });
}

Deno.test("formatAddress() prints TCP, IPv6 and unix addresses", () => {
  assert.equal(formatAddress({ transport: "tcp", hostname: "127.0.0.1", port: 5 }), "127.0.0.1:5");
  assert.equal(formatAddress({ transport: "tcp", hostname: "::1", port: 5 }), "[::1]:5");
  assert.equal(formatAddress({ transport: "unix", path: "/x.sock" }), "unix:/x.sock");
});
