import { dottedPath } from './config-path.js';

/**
 * Values an older Outpost accepted that are now spelled differently. A config that still holds
 * one keeps loading with the same meaning: the value is replaced before validation and the loader
 * reports what to write instead.
 */
interface DeprecatedValue {
  path: readonly string[];
  value: unknown;
  replacement: unknown;
  why: string;
}

const DEPRECATED: readonly DeprecatedValue[] = [
  {
    // Before issue 13, connector.scep.workers 0 meant one per CPU; `workers` now counts processes
    // in every role, with auto for one per CPU.
    path: ['connector', 'scep', 'workers'],
    value: 0,
    replacement: 'auto',
    why: 'workers counts processes in every role; auto is one per CPU, as 0 was',
  },
];

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Replaces deprecated values in the layered (not yet validated) config; returns one warning each. */
export function replaceDeprecatedValues(layered: Record<string, unknown>): string[] {
  const warnings: string[] = [];
  for (const entry of DEPRECATED) {
    const parentPath = entry.path.slice(0, -1);
    const key = entry.path.at(-1)!;
    let parent: unknown = layered;
    for (const segment of parentPath) parent = isMapping(parent) ? parent[segment] : undefined;
    if (!isMapping(parent) || !Object.hasOwn(parent, key) || parent[key] !== entry.value) continue;
    parent[key] = entry.replacement;
    warnings.push(
      `${dottedPath(entry.path)}: ${String(entry.value)} is deprecated; write ${String(entry.replacement)} (${entry.why})`,
    );
  }
  return warnings;
}
