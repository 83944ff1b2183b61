/**
 * Which medium holds the repositories, as the configuration names it: types
 * only, so that reading the command line loads no storage.
 *
 * @module
 */

/** An object store location, parsed from an `s3:` URL. */
export interface S3Location {
  /** `https://host:port`, without a path. */
  endpoint: string;
  bucket: string;
  /** The key prefix of the data folder's equivalent: `""` or `"some/prefix/"`. */
  prefix: string;
}

/** Which medium holds the repositories, and its settings. */
export type StorageChoice =
  | {
    kind: "fs";
    /** The data folder. */
    dir: string;
    /** Folders 0770 and files 0660 instead of 0700 and 0600. */
    groupAccessible: boolean;
  }
  | {
    kind: "s3";
    location: S3Location;
    /** A PEM file of CA certificates the store's certificate is signed by (`--s3-cacert`). */
    caFile: string | null;
  };
