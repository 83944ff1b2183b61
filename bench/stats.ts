/**
 * Small statistics helpers for the benchmark.
 *
 * @module
 */

/** The q-quantile (0..1) of a list of numbers. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** The median of a list of numbers. */
export function median(values: number[]): number {
  return quantile(values, 0.5);
}
