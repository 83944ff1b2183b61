/**
 * Writes the `--help` text into the README's Options block, verbatim (the
 * options test checks they agree): `deno run -A tools/readme_options.ts`.
 *
 * @module
 */

import { parseCommand } from "../lib/cli/command.ts";

const readmePath = new URL("../README.md", import.meta.url);
const readme = await Deno.readTextFile(readmePath);
const start = readme.indexOf("## Options");
const open = readme.indexOf("```\n", start) + 4;
const close = readme.indexOf("\n```", open);
const command = parseCommand(["--help"], {});
if (command.kind !== "help") throw new Error("--help did not give the help");
await Deno.writeTextFile(readmePath, readme.slice(0, open) + command.text + readme.slice(close));
