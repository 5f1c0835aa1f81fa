import { isSecretPath } from './config-path.js';

export const MASK = '********';

/**
 * A copy of the config (or any plain data) safe to print: values under secret keys are replaced,
 * nulls stay null so "not set" remains visible.
 */
export function maskSecrets<T>(value: T, path: readonly PropertyKey[] = []): T {
  if (Array.isArray(value)) return value.map((item, i) => maskSecrets(item, [...path, i])) as T;
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) copy[key] = maskSecrets(item, [...path, key]);
    return copy as T;
  }
  if (value !== null && value !== undefined && isSecretPath(path)) return MASK as T;
  return value;
}
