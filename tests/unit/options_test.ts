/** The option table is the one source: help, defaults and the README agree with it. */
import assert from "node:assert/strict";
import { parseCommand } from "../../lib/cli/command.ts";
import { join } from "../../lib/base/fs_util.ts";
import { optionEntries, shownDefault } from "../../lib/cli/options.ts";
import { PROJECT_ROOT } from "../helpers/files.ts";

function helpText(): string {
  const command = parseCommand(["--help"], {});
  if (command.kind !== "help") throw new Error("no help");
  return command.text;
}

function defaults(): Record<string, unknown> {
  const command = parseCommand(["serve"], {});
  if (command.kind !== "serve") throw new Error("no serve command");
  return command.config as unknown as Record<string, unknown>;
}

Deno.test("the help's defaults are the configuration's defaults, for every option", () => {
  const help = helpText();
  const config = defaults();
  let checked = 0;
  for (const [key, option] of optionEntries()) {
    const shown = shownDefault(option);
    const options = help.slice(help.indexOf("Options:")).split("\n");
    const line = options.find((l) => new RegExp(`^\\s+(-\\w, )?--${option.flag}\\b`).test(l));
    assert.ok(line, `--${option.flag} is in the help`);
    if (shown === null) {
      assert.doesNotMatch(line, /\(default /, `--${option.flag} shows no default`);
      continue;
    }
    assert.ok(line.endsWith(`(default ${shown})`), line);
    if (shown.startsWith("DIR/")) {
      // Derived from the data directory: the configuration resolves it.
      const file = join(String(config.dataDir), shown.slice("DIR/".length));
      const withTls = parseCommand(["serve", "--tls"], {});
      const tls = withTls.kind === "serve" ? withTls.config.tls : null;
      const resolved = {
        htpasswdFile: config.htpasswdFile,
        tlsCert: tls?.certFile,
        tlsKey: tls?.keyFile,
      }[key as string];
      assert.equal(resolved, file, `--${option.flag}`);
    } else {
      assert.deepEqual(option.parse(shown, `--${option.flag}`), option.default, option.flag);
      if (key in config) assert.deepEqual(config[key], option.default, `config.${key}`);
    }
    checked++;
  }
  assert.ok(checked >= 8, `${checked} defaults checked`);
});

Deno.test("every option can be set from its RESTIC_REST_* variable", () => {
  for (const [key, option] of optionEntries()) {
    if (option.noEnv || ["tlsMinVer", "cpuProfile", "tls", "tlsCert", "tlsKey"].includes(key)) {
      continue;
    }
    const name = `RESTIC_REST_${option.flag.toUpperCase().replaceAll("-", "_")}`;
    assert.match(helpText(), new RegExp(`--${option.flag}\\b`));
    const examples: Record<string, string> = { trustedProxies: "10.0.0.1,fd00::/8" };
    const value = examples[key] ?? (option.takes ? (option.shown ?? "7") : "true");
    const env = { [name]: value === "DIR/.htpasswd" ? "/x/.htpasswd" : value };
    const needs: Record<string, string[]> = {
      prometheusNoAuth: ["--prometheus"],
      s3Cacert: ["s3:https://store.example/bucket", "--no-auth"],
      proxyAuthUsername: ["--trusted-proxy", "10.0.0.1"],
    };
    const command = parseCommand(["serve", ...(needs[key] ?? [])], env);
    assert.equal(command.kind, "serve", name);
  }
});

Deno.test("the README's Options block is the --help text, verbatim", async () => {
  const readme = await Deno.readTextFile(`${PROJECT_ROOT}README.md`);
  const section = readme.slice(readme.indexOf("## Options"));
  const block = /```\n([\s\S]*?)\n```/.exec(section)?.[1];
  assert.equal(block, helpText());
});
