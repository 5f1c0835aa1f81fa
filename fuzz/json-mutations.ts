import fc from 'fast-check';

/**
 * Mutations of a JSON-like value near a schema: replace a value by one of another type or by a
 * random JSON value, drop or add a key (schema keys and prototype-polluting ones), nest deeply,
 * blow up a string or an array. Used for link messages (JSON) and config (YAML parsed to data).
 */
export type JsonOp =
  | { kind: 'replace'; pick: number; value: unknown }
  | { kind: 'delete'; pick: number }
  | { kind: 'add'; pick: number; key: string; value: unknown }
  | { kind: 'nest'; pick: number; depth: number; array: boolean }
  | { kind: 'grow'; pick: number; times: number };

type Container = Record<string, unknown> | unknown[];
interface Slot {
  parent: Container;
  key: string | number;
}

function slots(root: unknown): Slot[] {
  const out: Slot[] = [];
  const walk = (value: unknown) => {
    if (value === null || typeof value !== 'object') return;
    const container = value as Container;
    for (const key of Array.isArray(container) ? container.keys() : Object.keys(container)) {
      out.push({ parent: container, key });
      walk((container as Record<string | number, unknown>)[key]);
    }
  };
  walk(root);
  return out;
}

const edgeValues: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -0,
  2 ** 53 + 1,
  '',
  ' ',
  'x'.repeat(100_000),
  '\u0000',
  '\uD800',
  '../../etc/passwd',
  '0.0.0.0:0',
  '10.0.0.0/33',
  'fd00::/129',
  'https://',
  'not a url',
  '2026-13-45T99:99:99Z',
  [],
  {},
  [null],
  { '': null },
  'OUTPOST_ERR_DECODE',
  'gateway',
  'connector',
  'builtin',
  'postgres',
  'pkcs11',
];

export function jsonOp(keys: readonly string[]): fc.Arbitrary<JsonOp> {
  const pick = fc.nat(1 << 16);
  const value = fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...edgeValues) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  );
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('replace' as const), pick, value }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('add' as const),
        pick,
        key: fc.oneof(
          fc.constantFrom(...keys, '__proto__', 'constructor', 'prototype', 'toString', ''),
          fc.string({ maxLength: 8 }),
        ),
        value,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('nest' as const),
        pick,
        depth: fc.integer({ min: 2, max: 300 }),
        array: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('grow' as const),
        pick,
        times: fc.integer({ min: 2, max: 3000 }),
      }),
    },
  );
}

function safeSize(value: unknown): number {
  try {
    return Math.max(1, JSON.stringify(value)?.length ?? 1);
  } catch {
    return 300_000;
  }
}

/** Applies `ops` to a deep copy of `seed`. */
export function applyJsonOps(seed: unknown, ops: readonly JsonOp[]): unknown {
  const holder: Record<string, unknown> = { root: structuredClone(seed) };
  for (const op of ops) {
    const all = slots(holder);
    const slot = all[op.pick % all.length]!;
    const parent = slot.parent as Record<string | number, unknown>;
    const current = parent[slot.key];
    switch (op.kind) {
      case 'replace':
        parent[slot.key] = structuredClone(op.value);
        break;
      case 'delete':
        if (Array.isArray(parent)) parent.splice(slot.key as number, 1);
        else if (parent !== holder) delete parent[slot.key];
        break;
      case 'add':
        if (current !== null && typeof current === 'object' && !Array.isArray(current)) {
          Object.defineProperty(current, op.key, {
            value: structuredClone(op.value),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        } else if (Array.isArray(current)) current.push(structuredClone(op.value));
        break;
      case 'nest': {
        let wrapped = current;
        for (let i = 0; i < op.depth; i++) wrapped = op.array ? [wrapped] : { a: wrapped };
        parent[slot.key] = wrapped;
        break;
      }
      case 'grow':
        // Bounded: a few hundred kB is past every limit; gigabyte strings would only test the fuzzer.
        if (typeof current === 'string') {
          parent[slot.key] = current.repeat(
            Math.min(op.times, Math.ceil(1_200_000 / Math.max(1, current.length))),
          );
        } else {
          const item = Array.isArray(current) && current.length > 0 ? current[0] : current;
          const size = safeSize(item);
          // Copies, not one shared object: a later op inside one must not grow them all.
          const count = Math.max(2, Math.min(op.times, Math.floor(300_000 / size)));
          parent[slot.key] = Array.from({ length: count }, () =>
            typeof item === 'object' ? structuredClone(item) : item,
          );
        }
        break;
    }
  }
  return holder.root;
}
