/**
 * The one place that turns the configuration's choice of medium into a
 * storage.
 *
 * @module
 */

import { FsStorage } from "./fs.ts";
import type { Storage } from "./types.ts";

/** Which medium holds the repositories, and its settings. */
export type StorageChoice = {
  kind: "fs";
  /** The data folder. */
  dir: string;
  /** Folders 0770 and files 0660 instead of 0700 and 0600. */
  groupAccessible: boolean;
};

/**
 * Opens the chosen medium (not yet prepared: see `Storage.prepare`).
 *
 * @param choice The medium and its settings.
 * @returns The storage.
 */
export function openStorage(choice: StorageChoice): Storage {
  return new FsStorage(choice.dir, { groupAccessible: choice.groupAccessible });
}

/**
 * Describes the medium for the start-up log.
 *
 * @param choice The medium.
 * @returns A line such as `data directory: /srv/restic`.
 */
export async function describeStorage(choice: StorageChoice): Promise<string> {
  return `data directory: ${await Deno.realPath(choice.dir)}`;
}
