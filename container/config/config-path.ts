const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** `connector.profiles.device.eku[1]`: the way a user finds a key in the YAML file. */
export function dottedPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (typeof segment === 'string' && PLAIN_KEY.test(segment)) text += text ? `.${segment}` : segment;
    else text += `[${JSON.stringify(String(segment))}]`;
  }
  return text || '(top level)';
}

/** Keys whose values are secrets wherever they appear: masked in output and in error lines. */
const SECRET_KEYS = new Set(['static', 'password', 'secret', 'token', 'privateKey', 'challenge']);

/** Judged by the innermost key name, so `challenge: hunter2` is masked as well as `challenge.static`. */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  const lastKey = path.findLast((segment): segment is string => typeof segment === 'string');
  return lastKey !== undefined && SECRET_KEYS.has(lastKey);
}
