/**
 * Giving garbage back between big batches of work. A walk over a large
 * store makes short-lived objects (directory entries, file infos) faster
 * than V8's young generation can drop them, so they reach the old
 * generation, which grows and never hands its pages back: measured on a
 * million objects, resident memory went from 30 to 80 MiB. A full collection
 * after each folder keeps it at 51 MiB for 14% more walking time. The
 * runtime flag `--expose-gc` (tools/compile.ts) makes `gc` available; without
 * it this does nothing.
 *
 * @module
 */

const collect = (globalThis as { gc?: () => void }).gc;

/** Runs a full garbage collection, where the runtime allows it. */
export function releaseGarbage(): void {
  collect?.();
}
