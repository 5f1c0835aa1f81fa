import fc from 'fast-check';
import { applyByteOps, type ByteOp, byteOp } from './byte-mutations.js';

/**
 * Almost-valid DER: a real message (a CSR, a PKIMessage, an OCSP request) read into a TLV tree,
 * changed at the structure level (a tag, a content, a child removed, duplicated, swapped, grafted
 * from elsewhere, wrapped, nested hundreds deep) and written back with correct lengths, so the
 * decoder gets past the outer framing and meets the damage deep inside. Then optional lies at the
 * byte level: a length field rewritten (indefinite, one too many, 2^32-1, non-minimal) and blind
 * byte operations. The tree reader is deliberately lenient; it only ever reads the seeds.
 */
interface DerNode {
  tag: Buffer;
  /** Constructed (or encapsulating: OCTET/BIT STRING holding DER) nodes have children. */
  children?: DerNode[];
  /** BIT STRING's unused-bits byte in front of encapsulated DER. */
  prefix?: Buffer;
  content?: Buffer;
}

interface Tlv {
  tag: Buffer;
  contentStart: number;
  contentEnd: number;
}

function readTlv(bytes: Buffer, at: number, end: number): Tlv | undefined {
  let p = at;
  if (p >= end) return undefined;
  const first = bytes[p++]!;
  if ((first & 0x1f) === 0x1f) {
    while (p < end && bytes[p]! & 0x80) p++;
    p++;
  }
  if (p >= end) return undefined;
  const tag = bytes.subarray(at, p);
  const lengthByte = bytes[p++]!;
  let length = lengthByte;
  if (lengthByte & 0x80) {
    const n = lengthByte & 0x7f;
    if (n === 0 || n > 4 || p + n > end) return undefined; // indefinite or absurd: not DER
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[p++]!;
  }
  if (p + length > end) return undefined;
  return { tag, contentStart: p, contentEnd: p + length };
}

function readAll(bytes: Buffer, start: number, end: number, depth: number): DerNode[] | undefined {
  if (depth > 40) return undefined;
  const nodes: DerNode[] = [];
  let at = start;
  while (at < end) {
    const tlv = readTlv(bytes, at, end);
    if (!tlv) return undefined;
    nodes.push(toNode(bytes, tlv, depth));
    at = tlv.contentEnd;
  }
  return nodes;
}

function toNode(bytes: Buffer, tlv: Tlv, depth: number): DerNode {
  const tag = Buffer.from(tlv.tag);
  const { contentStart: s, contentEnd: e } = tlv;
  const content = bytes.subarray(s, e);
  if (tag[0]! & 0x20) {
    const children = readAll(bytes, s, e, depth + 1);
    return children ? { tag, children } : { tag, content };
  }
  // DER inside OCTET STRING (eContent, extnValue) and BIT STRING (subjectPublicKey); a short random
  // octet string may parse by accident, which is harmless (it only widens the mutations).
  if (tag[0] === 0x04 && e - s >= 2 && (bytes[s]! === 0x30 || bytes[s]! === 0x04)) {
    const children = readAll(bytes, s, e, depth + 1);
    if (children) return { tag, children };
  }
  if (tag[0] === 0x03 && e - s >= 3 && bytes[s] === 0 && bytes[s + 1] === 0x30) {
    const children = readAll(bytes, s + 1, e, depth + 1);
    if (children) return { tag, children, prefix: Buffer.from([0]) };
  }
  return { tag, content };
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const out: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) out.unshift(n & 0xff);
  return Buffer.from([0x80 | out.length, ...out]);
}

interface LengthField {
  at: number;
  size: number;
  value: number;
}

function lengthOfLength(length: number): number {
  let size = 1;
  if (length >= 0x80) for (let n = length; n > 0; n = Math.floor(n / 256)) size++;
  return size;
}

/** Content size of every node, computed once per encode (linear, however deep the nesting). */
function contentSizes(node: DerNode, sizes: Map<DerNode, number>): number {
  let size: number;
  if (node.children) {
    size = node.prefix?.length ?? 0;
    for (const child of node.children) {
      const inner = contentSizes(child, sizes);
      size += child.tag.length + lengthOfLength(inner) + inner;
    }
  } else size = node.content?.length ?? 0;
  sizes.set(node, size);
  return size;
}

function write(
  node: DerNode,
  out: Buffer,
  at: number,
  sizes: Map<DerNode, number>,
  lengths: LengthField[],
): number {
  node.tag.copy(out, at);
  at += node.tag.length;
  const size = sizes.get(node)!;
  const length = encodeLength(size);
  lengths.push({ at, size: length.length, value: size });
  length.copy(out, at);
  at += length.length;
  if (node.children) {
    if (node.prefix) at += node.prefix.copy(out, at);
    for (const child of node.children) at = write(child, out, at, sizes, lengths);
    return at;
  }
  return at + (node.content ? node.content.copy(out, at) : 0);
}

/** Encodes the tree with correct lengths and records where each length field sits (for the length lies). */
function encode(root: DerNode, lengths: LengthField[]): Buffer {
  const sizes = new Map<DerNode, number>();
  const inner = contentSizes(root, sizes);
  const out = Buffer.alloc(root.tag.length + lengthOfLength(inner) + inner);
  write(root, out, 0, sizes, lengths);
  return out;
}

function clone(node: DerNode): DerNode {
  const copy: DerNode = { tag: node.tag };
  if (node.children) copy.children = node.children.map(clone);
  if (node.prefix) copy.prefix = node.prefix;
  if (node.content) copy.content = node.content;
  return copy;
}

interface Located {
  node: DerNode;
  parent?: DerNode;
  index: number;
}

function preorder(root: DerNode): Located[] {
  const out: Located[] = [{ node: root, index: 0 }];
  for (let i = 0; i < out.length; i++) {
    const { node } = out[i]!;
    node.children?.forEach((child, index) => {
      out.push({ node: child, parent: node, index });
    });
  }
  return out;
}

const INTERESTING_TAGS = [
  [0x30],
  [0x31],
  [0x02],
  [0x03],
  [0x04],
  [0x05],
  [0x06],
  [0x01],
  [0x0c],
  [0x13],
  [0x16],
  [0x17],
  [0x18],
  [0x1e],
  [0xa0],
  [0xa1],
  [0xa2],
  [0xa3],
  [0x80],
  [0x81],
  [0x82],
  [0x83],
  [0x00],
  [0xff],
  [0x1f, 0x81, 0x00],
  [0x24],
  [0x23],
  [0x2c],
].map((t) => Buffer.from(t));

const EDGE_CONTENTS = [
  [],
  [0x00],
  [0xff],
  [0x80],
  [0x7f],
  [0x00, 0x00, 0x01],
  [0xff, 0xff],
  [0x00, 0x80],
  [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  Array(300).fill(0xff),
  [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d], // OID prefix cut short
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // OID arc with padding
  [0x2b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // OID arc past 2^53
  [0x07],
  [0x08, 0xff], // BIT STRING unused bits out of range
  [...Buffer.from('20261306250000Z')],
  [...Buffer.from('991232235960Z')],
  [...Buffer.from('2026')],
  [0xc3, 0x28],
  [0xed, 0xa0, 0x80], // invalid UTF-8
].map((c) => Buffer.from(c));

export type TreeOp =
  | { kind: 'content'; pick: number; bytes: Uint8Array }
  | { kind: 'edge'; pick: number; value: number }
  | { kind: 'tag'; pick: number; value: number }
  | { kind: 'delete' | 'empty' | 'swap'; pick: number }
  | { kind: 'duplicate'; pick: number; times: number }
  | { kind: 'wrap'; pick: number; value: number }
  | { kind: 'nest'; pick: number; depth: number }
  | { kind: 'graft'; pick: number; from: number };

const pick = fc.nat(1 << 16);
export const treeOp: fc.Arbitrary<TreeOp> = fc.oneof(
  fc.record({ kind: fc.constant('content' as const), pick, bytes: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ kind: fc.constant('edge' as const), pick, value: fc.nat(EDGE_CONTENTS.length - 1) }),
  fc.record({ kind: fc.constant('tag' as const), pick, value: fc.nat(INTERESTING_TAGS.length - 1) }),
  fc.record({ kind: fc.constantFrom('delete' as const, 'empty' as const, 'swap' as const), pick }),
  fc.record({ kind: fc.constant('duplicate' as const), pick, times: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('wrap' as const), pick, value: fc.nat(3) }),
  fc.record({ kind: fc.constant('nest' as const), pick, depth: fc.integer({ min: 2, max: 400 }) }),
  fc.record({ kind: fc.constant('graft' as const), pick, from: fc.nat(1 << 16) }),
);

const WRAPPERS = [[0x30], [0x31], [0xa0], [0x04]].map((t) => Buffer.from(t));

function applyTreeOp(root: DerNode, op: TreeOp, donors: readonly DerNode[]): DerNode {
  const nodes = preorder(root);
  const target = nodes[op.pick % nodes.length]!;
  const { node, parent, index } = target;
  switch (op.kind) {
    case 'content':
      node.children = undefined;
      node.prefix = undefined;
      node.content = Buffer.from(op.bytes);
      break;
    case 'edge':
      node.children = undefined;
      node.prefix = undefined;
      node.content = EDGE_CONTENTS[op.value]!;
      break;
    case 'tag':
      node.tag = INTERESTING_TAGS[op.value]!;
      break;
    case 'delete':
      parent?.children?.splice(index, 1);
      break;
    case 'empty':
      if (node.children) node.children = [];
      else node.content = Buffer.alloc(0);
      break;
    case 'swap':
      if (parent?.children && parent.children.length > 1) {
        const other = (index + 1) % parent.children.length;
        [parent.children[index], parent.children[other]] = [parent.children[other]!, parent.children[index]!];
      }
      break;
    case 'duplicate':
      parent?.children?.splice(index, 0, ...Array.from({ length: op.times }, () => clone(node)));
      break;
    case 'wrap':
    case 'nest': {
      let wrapped = node;
      const depth = op.kind === 'wrap' ? 1 : op.depth;
      const tag = op.kind === 'wrap' ? WRAPPERS[op.value]! : WRAPPERS[0]!;
      for (let i = 0; i < depth; i++) wrapped = { tag, children: [wrapped] };
      if (!parent) return wrapped;
      parent.children![index] = wrapped;
      break;
    }
    case 'graft': {
      const donor = clone(donors[op.from % donors.length]!);
      if (!parent) return donor;
      parent.children![index] = donor;
      break;
    }
  }
  return root;
}

function applyLengthLie(
  bytes: Buffer,
  lengths: readonly LengthField[],
  choice: number,
  kind: number,
): Buffer {
  if (lengths.length === 0) return bytes;
  const field = lengths[choice % lengths.length]!;
  const lies = [
    Buffer.from([0x80]), // indefinite (BER, not DER)
    encodeLength(field.value + 1),
    encodeLength(Math.max(0, field.value - 1)),
    Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff]),
    Buffer.from([0x89, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from([0x82, 0x00, field.value & 0x7f]), // non-minimal
    Buffer.from([0x00]),
    Buffer.from([0xff]),
  ];
  const lie = lies[kind % lies.length]!;
  return Buffer.concat([bytes.subarray(0, field.at), lie, bytes.subarray(field.at + field.size)]);
}

export interface DerSeed {
  root: DerNode | undefined;
  raw: Buffer;
}

export function readSeed(raw: Buffer): DerSeed {
  const nodes = readAll(raw, 0, raw.length, 0);
  return { root: nodes?.length === 1 ? nodes[0] : undefined, raw };
}

export interface DerMutation {
  seed: number;
  tree: TreeOp[];
  lengthLie: [number, number] | null;
  bytes: ByteOp[];
}

/** Applies a mutation to seeds; exported so a counterexample can be replayed from its description. */
export function applyDerMutation(
  seeds: readonly DerSeed[],
  donors: readonly DerNode[],
  m: DerMutation,
): Buffer {
  const seed = seeds[m.seed % seeds.length]!;
  let bytes: Buffer;
  const lengths: LengthField[] = [];
  if (seed.root && (m.tree.length > 0 || m.lengthLie)) {
    let root = clone(seed.root);
    for (const op of m.tree) root = applyTreeOp(root, op, donors);
    bytes = encode(root, lengths);
  } else bytes = seed.raw;
  if (m.lengthLie) bytes = applyLengthLie(bytes, lengths, m.lengthLie[0], m.lengthLie[1]);
  return applyByteOps(bytes, m.bytes);
}

/** Almost-valid DER built from `seeds` (valid messages). */
export function almostValidDer(raw: readonly Buffer[]): fc.Arbitrary<Buffer> {
  const seeds = raw.map(readSeed);
  const donors = seeds.flatMap((s) => (s.root ? preorder(s.root).map((l) => l.node) : []));
  if (donors.length === 0) donors.push({ tag: Buffer.from([0x05]), content: Buffer.alloc(0) });
  const mutation: fc.Arbitrary<DerMutation> = fc.record({
    seed: fc.nat(seeds.length - 1),
    tree: fc.array(treeOp, { maxLength: 4 }),
    lengthLie: fc.option(fc.tuple(fc.nat(1 << 16), fc.nat(7)), { freq: 4 }),
    bytes: fc.oneof(
      { weight: 3, arbitrary: fc.constant<ByteOp[]>([]) },
      { weight: 1, arbitrary: fc.array(byteOp, { minLength: 1, maxLength: 2 }) },
    ),
  });
  return mutation.map((m) => applyDerMutation(seeds, donors, m));
}
