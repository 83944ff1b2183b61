/**
 * The one place that turns the configuration's choice of medium into a
 * storage: a folder on a disk, or a bucket of an S3-compatible store.
 *
 * @module
 */

import { FsStorage } from "./fs/storage.ts";
import type { StorageChoice } from "./choice.ts";
import type { Storage } from "./types.ts";

/**
 * Opens the chosen medium (not yet prepared: see `Storage.prepare`). The
 * object store's code is loaded only when it is chosen.
 *
 * @param choice The medium and its settings.
 * @param env The environment, for the store's credentials.
 * @returns The storage.
 * @throws {ConfigError} When the store's credentials or CA file cannot be used.
 */
export async function openStorage(
  choice: StorageChoice,
  env: Record<string, string | undefined> = {},
): Promise<Storage> {
  if (choice.kind === "fs") {
    return new FsStorage(choice.dir, { groupAccessible: choice.groupAccessible });
  }
  const { openS3 } = await import("./s3/open.ts");
  return await openS3(choice.location, choice.caFile, env);
}

/**
 * Describes the medium for the start-up log (never a credential).
 *
 * @param choice The medium.
 * @returns A line such as `data directory: /srv/restic`.
 */
export async function describeStorage(choice: StorageChoice): Promise<string> {
  if (choice.kind === "s3") {
    const { endpoint, bucket, prefix } = choice.location;
    return `object store: ${endpoint}/${bucket}/${prefix}`;
  }
  return `data directory: ${await Deno.realPath(choice.dir)}`;
}
