/**
 * Opening a bucket: credentials from the environment, the CA certificates to
 * trust (`--s3-cacert`, and `AWS_CA_BUNDLE` as the AWS tools honour it), and
 * the signed client.
 *
 * @module
 */

import { ConfigError } from "../../base/errors.ts";
import { S3Storage } from "./storage.ts";
import { S3Client } from "./client.ts";
import type { S3Location } from "../choice.ts";
import { credentialsFrom } from "./location.ts";

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (err) {
    throw new ConfigError(`Cannot read ${what} "${file}": ${(err as Error).message}`);
  }
}

/**
 * The storage of a bucket.
 *
 * @param location Endpoint, bucket and prefix.
 * @param caFile `--s3-cacert`, or `null`.
 * @param env The environment (credentials, region, AWS_CA_BUNDLE).
 * @returns The storage, not yet prepared.
 */
export async function openS3(
  location: S3Location,
  caFile: string | null,
  env: Record<string, string | undefined>,
): Promise<S3Storage> {
  const credentials = await credentialsFrom(env);
  // A CA list replaces the system's: with either, trust both the bundle and our file.
  const ca = [
    ...(env.AWS_CA_BUNDLE ? [await readPem(env.AWS_CA_BUNDLE, "AWS_CA_BUNDLE")] : []),
    ...(caFile ? [await readPem(caFile, "--s3-cacert")] : []),
  ];
  const client = new S3Client(location, credentials, ca.length > 0 ? { ca } : {});
  return new S3Storage(client, location.prefix);
}
