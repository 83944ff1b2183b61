/**
 * The error of a configuration that cannot run. It has no dependencies, so
 * every layer (options, listeners, storage set-up) can raise it.
 *
 * @module
 */

/** A configuration value that cannot be used; the message says which and why. */
export class ConfigError extends Error {
  /** @param message Action first, no trailing period. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}
