import fc from 'fast-check';

/**
 * Blind byte-level damage, applied after any structural mutation: what a bit error, a cut
 * connection or a hostile peer does to otherwise well-formed bytes. Positions are taken modulo
 * the current length, so a sequence of operations stays meaningful as the buffer changes.
 */
export type ByteOp =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'xor'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'repeat'; at: number; count: number; times: number };

const position = fc.nat(1 << 20);

export const byteOp: fc.Arbitrary<ByteOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('set' as const), at: position, value: fc.nat(255) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('xor' as const),
      at: position,
      value: fc.constantFrom(1, 2, 4, 8, 16, 32, 64, 128),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: position }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      at: position,
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('delete' as const),
      at: position,
      count: fc.integer({ min: 1, max: 64 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('repeat' as const),
      at: position,
      count: fc.integer({ min: 1, max: 64 }),
      times: fc.integer({ min: 1, max: 8 }),
    }),
  },
);

export function applyByteOps(input: Buffer, ops: readonly ByteOp[]): Buffer {
  let bytes = input;
  for (const op of ops) {
    if (bytes.length === 0 && op.kind !== 'insert') continue;
    const at = op.at % (bytes.length + (op.kind === 'insert' || op.kind === 'truncate' ? 1 : 0));
    switch (op.kind) {
      case 'set':
      case 'xor': {
        const copy = Buffer.from(bytes);
        copy[at] = op.kind === 'set' ? op.value : copy[at]! ^ op.value;
        bytes = copy;
        break;
      }
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), op.bytes, bytes.subarray(at)]);
        break;
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + op.count)]);
        break;
      case 'repeat': {
        const piece = bytes.subarray(at, at + op.count);
        bytes = Buffer.concat([
          bytes.subarray(0, at + piece.length),
          ...Array(op.times).fill(piece),
          bytes.subarray(at + piece.length),
        ]);
        break;
      }
    }
  }
  return bytes;
}

/** A seed (picked by index), then 0–3 byte operations. */
export function mutatedBytes(seeds: readonly Buffer[], maxOps = 3): fc.Arbitrary<Buffer> {
  return fc
    .tuple(fc.nat(seeds.length - 1), fc.array(byteOp, { maxLength: maxOps }))
    .map(([i, ops]) => applyByteOps(seeds[i]!, ops));
}

/**
 * Ways to cut a stream into chunks: split points as fractions, so any chunking (1-byte chunks,
 * a header split in the middle, everything at once) is reachable whatever the stream length.
 */
export const chunking: fc.Arbitrary<number[]> = fc.oneof(
  fc.constant<number[]>([]),
  fc.array(fc.nat(1 << 20), { maxLength: 12 }),
  fc.constant<number[]>([-1]), // -1: one byte at a time
);

export function splitInto(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  if (cuts.length === 1 && cuts[0] === -1) {
    // One byte at a time through the first headers; the rest in one piece (a 16 KiB frame fed
    // byte by byte would only make the run slower, not reach new code).
    const head = Math.min(bytes.length, 64);
    return [...Array.from({ length: head }, (_, i) => bytes.subarray(i, i + 1)), bytes.subarray(head)];
  }
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}
