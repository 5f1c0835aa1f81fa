import { ConfigError } from './config-error.js';
import type { ConfigOverride } from './env-overrides.js';

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Environment variable names are often upper-cased by habit or tooling: `OUTPOST__ADMIN__LISTEN`
 * should still reach `admin.listen`. Prefer an exact key, then a case-insensitive match among the
 * keys the config already has or the defaults know.
 */
function resolveKey(segment: string, existing: object | undefined, known: object | undefined): string {
  const candidates = [...Object.keys(existing ?? {}), ...Object.keys(known ?? {})];
  if (candidates.includes(segment)) return segment;
  return candidates.find((key) => key.toLowerCase() === segment.toLowerCase()) ?? segment;
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty, not assignment: a key named __proto__ must stay an ordinary (invalid) key.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function applyOne(root: Record<string, unknown>, override: ConfigOverride, defaults: unknown): void {
  let target = root;
  let known: unknown = defaults;
  override.path.forEach((segment, index) => {
    const knownHere = isMapping(known) ? known : undefined;
    const key = resolveKey(segment, target, knownHere);
    known = knownHere && Object.hasOwn(knownHere, key) ? knownHere[key] : undefined;
    if (index === override.path.length - 1) {
      setOwn(target, key, override.value);
      return;
    }
    const next = Object.hasOwn(target, key) ? target[key] : undefined;
    if (next === undefined || next === null) {
      setOwn(target, key, {});
    } else if (!isMapping(next)) {
      const at = override.path.slice(0, index + 1).join('.');
      throw new ConfigError([`${override.source}: cannot set a key inside ${at}, which is not a mapping`]);
    }
    target = target[key] as Record<string, unknown>;
  });
}

/** Returns a copy of `raw` with each override set at its path, later overrides winning. */
export function applyOverrides(
  raw: Record<string, unknown>,
  overrides: readonly ConfigOverride[],
  defaults?: unknown,
): Record<string, unknown> {
  if (overrides.length === 0) return raw;
  const result = structuredClone(raw);
  for (const override of overrides) applyOne(result, override, defaults);
  return result;
}
