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
  /** Whether access lines are written (so a request need not build one for nothing). */
  readonly accessEnabled: boolean;
  /** One access log line per request; dropped unless `--log` is set. */
  access(entry: AccessEntry): void;
}

/** One request, as the access log records it. */
export interface AccessEntry {
  /** The client address. */
  remote: string;
  /** The authenticated user, or the one who tried and failed; `null` when none was sent. */
  user: string | null;
  time: Date;
  method: string;
  /** Path and query as requested. */
  target: string;
  status: number;
  /** Response body bytes, when known. */
  bytes: number | null;
  referer: string | null;
  userAgent: string | null;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Quotes a field the way Apache does: `"` and `\` escaped, control bytes as `\xNN`. */
function escapeField(value: string): string {
  return value.replace(
    // deno-lint-ignore no-control-regex
    /["\\\x00-\x1f\x7f]/g,
    (c) =>
      c === '"' || c === "\\" ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/**
 * Formats an entry in Apache's combined log format:
 * `host - user [time] "request" status bytes "referer" "user-agent"`.
 *
 * @param entry The request.
 * @returns The line, without a newline.
 */
export function formatCombinedLog(entry: AccessEntry): string {
  const t = entry.time;
  const pad = (n: number): string => String(n).padStart(2, "0");
  const time = `${pad(t.getUTCDate())}/${MONTHS[t.getUTCMonth()]}/${t.getUTCFullYear()}:` +
    `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())} +0000`;
  const user = entry.user ? escapeField(entry.user).replaceAll(" ", "\\x20") : "-";
  const bytes = entry.bytes ? String(entry.bytes) : "-";
  const request = escapeField(`${entry.method} ${entry.target} HTTP/1.1`);
  const referer = escapeField(entry.referer ?? "-");
  const agent = escapeField(entry.userAgent ?? "-");
  return `${entry.remote} - ${user} [${time}] "${request}" ${entry.status} ${bytes} "${referer}" "${agent}"`;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  debug: boolean;
  /** Where lines go; stderr by default. Tests pass a collector. */
  write?: (line: string) => void;
  /** Where access log lines go; none by default. */
  writeAccess?: (line: string) => void;
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/**
 * Escapes control characters (and Unicode line breaks) as `\xNN` / `\uNNNN`,
 * so that nothing a client chose (a user name, a path, a header) can end a
 * log line early or forge another one.
 *
 * @param text The text.
 * @returns The text on one line.
 */
export function escapeControl(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f\x85\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/**
 * Creates the server log. Every line has its control characters escaped.
 *
 * @param options Debug switch and sink.
 * @returns The logger.
 */
export function createLogger(options: LoggerOptions): Logger {
  const sink = options.write ?? writeStderr;
  const write = (line: string): void => sink(escapeControl(line));
  return {
    info: (message) => write(message),
    warn: (message) => write(`warning: ${message}`),
    error: (message) => write(`error: ${message}`),
    debug: options.debug ? (message) => write(`debug: ${message}`) : () => {},
    debugEnabled: options.debug,
    accessEnabled: options.writeAccess !== undefined,
    access: options.writeAccess
      ? ((writeAccess) => (entry: AccessEntry) => writeAccess(formatCombinedLog(entry)))(
        options.writeAccess,
      )
      : () => {},
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

/**
 * Opens the access log sink: `-` for stdout, otherwise a file opened for
 * appending (created with mode 0640).
 *
 * @param target `-` or a file path.
 * @returns A function that writes one line.
 */
export function openAccessLog(target: string): (line: string) => void {
  if (target === "-") return (line) => Deno.stdout.writeSync(encoder.encode(line + "\n"));
  const file = Deno.openSync(target, { append: true, create: true, mode: 0o640 });
  return (line) => {
    const data = encoder.encode(line + "\n");
    let offset = 0;
    while (offset < data.length) offset += file.writeSync(data.subarray(offset));
  };
}
