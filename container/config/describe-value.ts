const MAX_SHOWN = 60;

function truncate(text: string): string {
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}

function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    // Circular YAML aliases and BigInts cannot be shown as JSON; the caller falls back to a type name.
    return undefined;
  }
}

/**
 * How a config value appears in an error line: short, single-line, never the value of a secret.
 * Must not throw for anything a YAML or JSON parser can produce.
 */
export function describeValue(value: unknown, isSecret = false): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (isSecret) return '(secret, not shown)';
  if (typeof value === 'string') return `'${truncate(JSON.stringify(value).slice(1, -1))}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (Array.isArray(value)) return truncate(safeJson(value) ?? 'a list');
  if (value instanceof Date) return 'a date';
  if (value instanceof Uint8Array) return 'binary data';
  if (value instanceof Map || value instanceof Set) return 'a collection';
  if (typeof value === 'object') return truncate(safeJson(value) ?? 'a mapping');
  return typeof value;
}
