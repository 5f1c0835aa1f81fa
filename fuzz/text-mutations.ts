import fc from 'fast-check';

/**
 * Character-level damage to a text format (XML, YAML, JSON, base64): insert a token from the
 * format's own dictionary (so the damage is syntactic, not just noise), delete, repeat or cut.
 * Positions are taken modulo the current length.
 */
export type TextOp =
  | { kind: 'insert'; at: number; token: number; times: number }
  | { kind: 'char'; at: number; char: string }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'repeat'; at: number; count: number; times: number }
  | { kind: 'truncate'; at: number };

const at = fc.nat(1 << 20);

export function textOp(dictionarySize: number): fc.Arbitrary<TextOp> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('insert' as const),
        at,
        token: fc.nat(Math.max(0, dictionarySize - 1)),
        times: fc.oneof(
          { weight: 5, arbitrary: fc.constant(1) },
          { weight: 1, arbitrary: fc.integer({ min: 2, max: 2000 }) },
        ),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('char' as const),
        at,
        char: fc.oneof(
          fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
          fc.constantFrom('\0', '\uFFFE', '\uD800', '"', "'", '<', '>', '&', ':', '\n', '\t', ' ', '#', '%'),
        ),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('delete' as const),
        at,
        count: fc.integer({ min: 1, max: 40 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('repeat' as const),
        at,
        count: fc.integer({ min: 1, max: 40 }),
        times: fc.integer({ min: 1, max: 200 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at }) },
  );
}

export function applyTextOps(input: string, ops: readonly TextOp[], dictionary: readonly string[]): string {
  let text = input;
  for (const op of ops) {
    const p = op.at % (text.length + 1);
    switch (op.kind) {
      case 'insert':
        text = text.slice(0, p) + (dictionary[op.token] ?? '').repeat(op.times) + text.slice(p);
        break;
      case 'char':
        text = text.slice(0, p) + op.char + text.slice(p + 1);
        break;
      case 'delete':
        text = text.slice(0, p) + text.slice(p + op.count);
        break;
      case 'repeat': {
        const piece = text.slice(p, p + op.count);
        text = text.slice(0, p) + piece.repeat(op.times + 1) + text.slice(p + piece.length);
        break;
      }
      case 'truncate':
        text = text.slice(0, p);
        break;
    }
  }
  return text;
}

/** A seed text (picked by index) with 0–4 text operations from `dictionary`. */
export function mutatedText(
  seeds: readonly string[],
  dictionary: readonly string[],
  maxOps = 4,
): fc.Arbitrary<string> {
  return fc
    .tuple(fc.nat(seeds.length - 1), fc.array(textOp(dictionary.length), { maxLength: maxOps }))
    .map(([i, ops]) => applyTextOps(seeds[i]!, ops, dictionary));
}
