function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Lays `upper` over `lower`: mappings merge key by key, anything else (lists, scalars, null)
 * replaces. A pushed `gateway: { dns: {...} }` thus changes DNS and keeps the file's pools.
 * Returns new objects; neither input is modified. Keys are copied with defineProperty so a key
 * named `__proto__` stays an ordinary (and by the schema, invalid) key.
 */
export function mergeLayer(lower: unknown, upper: unknown): unknown {
  if (!isMapping(lower) || !isMapping(upper)) return upper === undefined ? lower : upper;
  const merged: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(lower), ...Object.keys(upper)])) {
    const value = Object.hasOwn(upper, key) ? mergeLayer(lower[key], upper[key]) : lower[key];
    Object.defineProperty(merged, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return merged;
}
