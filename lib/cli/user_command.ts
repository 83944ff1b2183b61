/**
 * `restic-rest user add|remove|list`: manage the htpasswd file without any
 * other tool. Entries are bcrypt; the file is replaced atomically, mode 0600.
 *
 * @module
 */

import { ConfigError } from "../base/errors.ts";
import { dirname, ensureDir, writeFileAtomic } from "../base/fs_util.ts";
import { hashPassword, parseHtpasswd, updateHtpasswd } from "../auth/htpasswd.ts";
import { USERNAME_PATTERN } from "../base/restic.ts";

/** A `user` sub-command. */
export interface UserCommand {
  action: "add" | "remove" | "list";
  /** The user, for add and remove. */
  name: string | null;
  htpasswdFile: string;
  /** Read the password from the first line of stdin instead of prompting. */
  passwordStdin: boolean;
}

/** How the command talks to the person running it. */
export interface UserCommandIo {
  /** Asks for a line, without echo on a terminal; `null` at end of input. */
  readSecret(prompt: string): Promise<string | null>;
  /** Reads the first line of stdin. */
  readStdinLine(): Promise<string | null>;
  out(text: string): void;
}

async function readFileOrEmpty(file: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "";
    throw new ConfigError(`Cannot read htpasswd file "${file}": ${(err as Error).message}`);
  }
}

async function askPassword(command: UserCommand, io: UserCommandIo): Promise<string> {
  if (command.passwordStdin) {
    const password = await io.readStdinLine();
    if (!password) throw new ConfigError("Cannot add a user without a password: stdin was empty");
    return password;
  }
  const first = await io.readSecret(`Password for ${command.name}: `);
  if (!first) throw new ConfigError("Cannot add a user with an empty password");
  const second = await io.readSecret("Repeat the password: ");
  if (second === null) {
    throw new ConfigError(
      "Cannot read the password twice from a pipe: pass it once with --password-stdin, as in " +
        `echo "$PASSWORD" | restic-rest user add ${command.name} --password-stdin`,
    );
  }
  if (first !== second) throw new ConfigError("Cannot add the user: the passwords differ");
  return first;
}

/** Writes the users' file, or says in one line why it cannot be written. */
async function writeOrExplain(file: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = err instanceof Deno.errors.PermissionDenied || code === "EACCES"
      ? "permission denied"
      : code === "EROFS"
      ? "the file system is read-only"
      : err instanceof Deno.errors.NotFound
      ? "a folder above it is missing"
      : (err as Error).message.replace(/ \(os error \d+\).*$/, "");
    throw new ConfigError(
      `Cannot write "${file}": ${why}; run as the user that owns it, or give --path DIR (or --htpasswd-file FILE)`,
    );
  }
}

/**
 * Runs a user command.
 *
 * @param command What to do.
 * @param io Prompts and output.
 * @throws {ConfigError} With a one-line message on bad input.
 */
export async function runUserCommand(command: UserCommand, io: UserCommandIo): Promise<void> {
  const file = command.htpasswdFile;
  const text = await readFileOrEmpty(file);
  if (command.action === "list") {
    for (const user of parseHtpasswd(text).users.keys()) io.out(user);
    return;
  }
  const name = command.name ?? "";
  if (!USERNAME_PATTERN.test(name)) {
    throw new ConfigError(`Cannot use user name "${name}": use letters, digits and @ . _ -`);
  }
  const exists = parseHtpasswd(text).users.has(name);
  if (command.action === "remove") {
    if (!exists) throw new ConfigError(`Cannot remove user "${name}": not in ${file}`);
    await writeOrExplain(
      file,
      () => writeFileAtomic(file, updateHtpasswd(text, name, null), 0o600),
    );
    io.out(`removed user ${name} from ${file}`);
    return;
  }
  const password = await askPassword(command, io);
  await writeOrExplain(file, async () => {
    await ensureDir(dirname(file), 0o700);
    await writeFileAtomic(file, updateHtpasswd(text, name, hashPassword(password)), 0o600);
  });
  io.out(`${exists ? "changed the password of" : "added"} user ${name} in ${file}`);
}

/**
 * The terminal and stdin as {@link UserCommandIo}: no echo when stdin is a
 * terminal; otherwise one line of stdin per prompt.
 *
 * @param out Where messages go.
 * @returns The io.
 */
export function terminalIo(out: (text: string) => void): UserCommandIo {
  const encoder = new TextEncoder();
  let buffered = "";
  let ended = false;
  const reader = Deno.stdin.readable.getReader();
  async function readLine(): Promise<string | null> {
    const decoder = new TextDecoder();
    while (!/[\r\n]/.test(buffered) && !ended) {
      const { value, done } = await reader.read();
      if (done) ended = true;
      else buffered += decoder.decode(value, { stream: true });
    }
    const match = /\r?\n|\r/.exec(buffered);
    if (!match) {
      const rest = buffered;
      buffered = "";
      return rest === "" ? null : rest;
    }
    const line = buffered.slice(0, match.index);
    buffered = buffered.slice(match.index + match[0].length);
    return line;
  }
  return {
    async readSecret(prompt) {
      Deno.stderr.writeSync(encoder.encode(prompt));
      const terminal = Deno.stdin.isTerminal();
      if (terminal) Deno.stdin.setRaw(true);
      try {
        return await readLine();
      } finally {
        if (terminal) {
          Deno.stdin.setRaw(false);
          Deno.stderr.writeSync(encoder.encode("\n"));
        }
      }
    },
    readStdinLine: readLine,
    out,
  };
}
