/**
 * What went wrong on a command line, in one line that names the flag and
 * the fix: unknown flags get the nearest known one (or the flag meant by a
 * common other name, such as `--port`), a flag without its value is named.
 * Pure.
 *
 * @module
 */

/** Flags of other servers, and what restic-rest calls them. */
const MEANT: Record<string, string> = {
  port: "--listen :PORT",
  host: "--listen HOST:PORT",
  bind: "--listen HOST:PORT",
  address: "--listen HOST:PORT",
  addr: "--listen HOST:PORT",
  dir: "--path DIR (or DIR alone)",
  data: "--path DIR (or DIR alone)",
  "data-dir": "--path DIR (or DIR alone)",
  root: "--path DIR (or DIR alone)",
  htpasswd: "--htpasswd-file FILE",
  "tls-cert-file": "--tls-cert FILE",
  "tls-key-file": "--tls-key FILE",
  cert: "--tls-cert FILE",
  key: "--tls-key FILE",
  metrics: "--prometheus",
  verbose: "--debug",
};

/** The edit distance between two words (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost);
    }
    previous = row;
  }
  return previous[b.length];
}

/**
 * The known flag nearest to an unknown one, when one is near enough.
 *
 * @param flag The unknown flag, without dashes.
 * @param known The known flags, without dashes.
 * @returns The suggestion (`--flag` and its value), or `null`.
 */
export function suggestFlag(flag: string, known: readonly string[]): string | null {
  const bare = flag.replace(/^-+/, "").replace(/=.*$/, "").toLowerCase();
  if (MEANT[bare]) return MEANT[bare];
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = candidate.startsWith(bare) || bare.startsWith(candidate)
      ? Math.abs(candidate.length - bare.length) / 4
      : distance(bare, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  const allowed = Math.max(1, Math.floor(bare.length / 4));
  return best !== null && bestDistance <= allowed ? `--${best}` : null;
}

/**
 * Explains an error of `node:util` `parseArgs` in one line.
 *
 * @param err What parseArgs threw.
 * @param known The known flags, without dashes.
 * @param command The command it was for (`restic-rest serve`).
 * @returns The message, ending with where the help is.
 */
export function explainArgsError(err: unknown, known: readonly string[], command: string): string {
  const message = err instanceof Error ? err.message : String(err);
  const help = `run ${command} --help for every option`;
  const option = /'(-[^' ]*)/.exec(message)?.[1] ?? "";
  const code = (err as { code?: string }).code;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const suggestion = suggestFlag(option, known);
    const meant = suggestion ? `: did you mean ${suggestion}?` : ";";
    return `Unknown option ${option}${meant} ${
      suggestion ? help[0].toUpperCase() + help.slice(1) : help
    }`;
  }
  if (/argument missing/.test(message)) return `Option ${option} needs a value; ${help}`;
  if (/does not take an argument/.test(message)) {
    return `Option ${option} is a switch and takes no value (write ${option}=false to turn it off); ${help}`;
  }
  return `Cannot read the command line: ${message.split("\n")[0].replace(/\.$/, "")}; ${help}`;
}
