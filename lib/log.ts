/**
 * Where the server's words go. Start-up and warnings on stderr without a
 * timestamp (restic's test harness reads them); debug lines only with
 * `--debug`. No other module writes to the console.
 *
 * @module
 */

/** The server's log. */
export interface Logger {
  /** Start-up and shutdown lines. */
  info(message: string): void;
  /** Something is wrong but the server goes on. */
  warn(message: string): void;
  /** A request failed on the server's side. */
  error(message: string): void;
  /** One line per request and every 4xx reason; dropped unless debugging. */
  debug(message: string): void;
  readonly debugEnabled: boolean;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  debug: boolean;
  /** Where lines go; stderr by default. Tests pass a collector. */
  write?: (line: string) => void;
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/**
 * Creates the server log.
 *
 * @param options Debug switch and sink.
 * @returns The logger.
 */
export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? writeStderr;
  return {
    info: (message) => write(message),
    warn: (message) => write(`warning: ${message}`),
    error: (message) => write(`error: ${message}`),
    debug: options.debug ? (message) => write(`debug: ${message}`) : () => {},
    debugEnabled: options.debug,
  };
}

/**
 * Prints program output (help, version, listings) on stdout.
 *
 * @param text The text; a newline is added.
 */
export function printOut(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text + "\n"));
}
