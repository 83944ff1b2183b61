/**
 * Unix socket files: a leftover of a crash is removed before listening, a
 * live one is refused, and the file goes when the server stops.
 *
 * @module
 */

import { ConfigError } from "../base/errors.ts";
import type { ListenAddress } from "../cli/listen.ts";

/**
 * Removes a socket file left by a server that is gone; refuses a live one.
 *
 * @param listen The address about to be listened on; only unix sockets matter.
 * @throws {ConfigError} When something else is there, or a server answers.
 */
export async function clearStaleSocket(listen: ListenAddress): Promise<void> {
  if (listen.transport !== "unix") return;
  const { path } = listen;
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (!info.isSocket) {
    throw new ConfigError(`Cannot listen on unix:${path}: something that is not a socket is there`);
  }
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
  } catch {
    await Deno.remove(path); // nobody answers: a leftover of a crash
    return;
  }
  throw new ConfigError(`Cannot listen on unix:${path}: another server is listening there`);
}

/**
 * Removes the socket file of a server that stopped listening.
 *
 * @param listen The address that was listened on.
 */
export async function removeSocket(listen: ListenAddress): Promise<void> {
  if (listen.transport === "unix") await Deno.remove(listen.path).catch(() => {});
}
