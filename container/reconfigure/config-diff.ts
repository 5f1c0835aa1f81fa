/**
 * Dotted paths whose values differ between two configs (plain JSON trees). Arrays compare as
 * whole values: a changed route list is one change at `gateway.routes.include`.
 */
export function changedPaths(before: unknown, after: unknown, prefix = ''): string[] {
  // A section that appears or disappears is compared key by key against nothing, so a new group
  // with a pool shows up as `gateway.groups.x.pool` (restart) and not as one opaque change.
  if (isPlainObject(before) && after === undefined) return changedPaths(before, {}, prefix);
  if (before === undefined && isPlainObject(after)) return changedPaths({}, after, prefix);
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys]
      .sort()
      .flatMap((key) => changedPaths(before[key], after[key], prefix ? `${prefix}.${key}` : key));
  }
  return sameValue(before, after) ? [] : [prefix];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) return changedPaths(a, b).length === 0;
  return false;
}

/**
 * Keys a running appliance cannot change in place: they own kernel state (TUN, routes, NAT),
 * listening sockets of the admin server, on-disk locations, or which roles exist at all. A `*`
 * matches one path segment (a group name).
 */
export const RESTART_REQUIRED: readonly string[] = [
  'dataDir',
  'roles',
  'admin',
  'cloud',
  'log',
  'gateway.pool',
  'gateway.tun',
  'gateway.nat',
  'gateway.workers',
  'gateway.dtls',
  'gateway.tls',
  'gateway.probe',
  'gateway.groups.*.pool',
];

function matches(pattern: string, path: string): boolean {
  const want = pattern.split('.');
  const have = path.split('.');
  if (have.length < want.length) return false;
  return want.every((segment, i) => segment === '*' || segment === have[i]);
}

/** Splits changed paths into those applied live and those that wait for a restart. */
export function classifyChanges(paths: readonly string[]): { live: string[]; restart: string[] } {
  const live: string[] = [];
  const restart: string[] = [];
  for (const path of paths) {
    (RESTART_REQUIRED.some((pattern) => matches(pattern, path)) ? restart : live).push(path);
  }
  return { live, restart };
}
