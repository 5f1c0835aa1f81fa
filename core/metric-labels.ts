/** The label value for anything outside a metric's fixed set. */
export const OTHER_LABEL = 'other';

/**
 * A metric label whose values come from a fixed set: anything else, in particular anything a
 * peer sent, becomes `other`. Each distinct value is a time series kept for the process's life,
 * so a label fed from the wire without this grows memory and /metrics without bound.
 */
export function fixedLabel<const T extends string>(
  allowed: readonly T[],
): (value: string | undefined) => T | typeof OTHER_LABEL {
  const set: ReadonlySet<string> = new Set(allowed);
  return (value) => (value !== undefined && set.has(value) ? (value as T) : OTHER_LABEL);
}
