/**
 * restic-rest: a server for restic's REST backend protocol.
 *
 * @module
 */

import { parseCommand } from "./lib/cli.ts";
import { ConfigError } from "./lib/config.ts";
import { createLogger, openAccessLog, printOut } from "./lib/log.ts";
import { startServer } from "./lib/server.ts";

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
      // Loaded only for this command: the server need not carry the hash libraries.
      const { runUserCommand, terminalIo } = await import("./lib/user_command.ts");
      await runUserCommand(command.command, terminalIo(printOut));
      return 0;
    }
    const { debug, accessLog } = command.config;
    const serverLog = createLogger({
      debug,
      writeAccess: accessLog === null ? undefined : openAccessLog(accessLog),
    });
    const server = await startServer(command.config, serverLog);
    const stop = (): void => {
      server.shutdown().then(() => Deno.exit(0));
    };
    Deno.addSignalListener("SIGINT", stop);
    if (Deno.build.os !== "windows") {
      Deno.addSignalListener("SIGTERM", stop);
      Deno.addSignalListener("SIGHUP", () => void server.reload());
    }
    await server.finished;
    return 0;
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
