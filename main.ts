/**
 * restic-rest: a server for restic's REST backend protocol. The entry point
 * parses the command line and runs the command; the server (and with it the
 * storage) is loaded only to serve, so `--help` and `user` load none of it.
 *
 * @module
 */

import { parseCommand } from "./lib/cli/command.ts";
import { ConfigError } from "./lib/base/errors.ts";
import { createLogger, printOut } from "./lib/base/log.ts";

/**
 * Runs the program with the given arguments.
 *
 * @param args The command line after the program name.
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  const log = createLogger({ debug: false });
  try {
    const command = parseCommand(args, Deno.env.toObject());
    if (command.kind === "help" || command.kind === "version") {
      printOut(command.text);
      return 0;
    }
    if (command.kind === "user") {
      const { runUserCommand, terminalIo } = await import("./lib/cli/user_command.ts");
      await runUserCommand(command.command, terminalIo(printOut));
      return 0;
    }
    const { serve } = await import("./lib/server/server.ts");
    return await serve(command.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      log.info(`restic-rest: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
