import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AsnNode, contentOf, parseDer, rawDer } from './der-reader.js';
import { tlv } from './der-writer.js';

/** A DER tree to write with tlv() and read back: constructed (SEQUENCE/SET/[n]) or primitive. */
type Tree = { tag: number; children: Tree[] } | { tag: number; bytes: Uint8Array };

const primitiveTags = [0x02, 0x04, 0x06, 0x0c, 0x13, 0x80, 0x81, 0x85];
const constructedTags = [0x30, 0x31, 0xa0, 0xa3];

const tree: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({
      tag: fc.constantFrom(...primitiveTags),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }),
    }),
    fc.record({
      tag: fc.constantFrom(...constructedTags),
      children: fc.array(tie('tree'), { maxLength: 6 }),
    }),
  ),
})).tree;

function write(t: Tree): Buffer {
  return 'bytes' in t ? tlv(t.tag, t.bytes) : tlv(t.tag, ...t.children.map(write));
}

/** The node matches the tree it was written from: tag, form, children in order, contents. */
function expectSame(node: AsnNode, t: Tree): void {
  expect(node.tagClass).toBe(t.tag >> 6);
  expect(node.tagNumber).toBe(t.tag & 0x1f);
  expect(node.constructed).toBe('children' in t);
  if ('bytes' in t) {
    expect(node.children).toHaveLength(0);
    expect(contentOf(node).equals(Buffer.from(t.bytes))).toBe(true);
    return;
  }
  expect(node.children).toHaveLength(t.children.length);
  t.children.forEach((child, i) => {
    expectSame(node.children[i]!, child);
    expect(rawDer(node.children[i]!).equals(write(child))).toBe(true);
  });
}

describe('parseDer', () => {
  it('reads back any tree written with tlv(), children in order, element bytes exact', () => {
    fc.assert(
      fc.property(tree, (t) => {
        const der = write(t);
        const node = parseDer(der, 'tree', der.length);
        expect(node.end).toBe(der.length);
        expect(rawDer(node).equals(der)).toBe(true);
        expectSame(node, t);
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    // SEQUENCE (indefinite) { INTEGER 1, SEQUENCE (indefinite) { } } end-of-contents
    { name: 'nested indefinite lengths', hex: '3080020101308000000000', children: [0, 0] },
    // SEQUENCE (indefinite) { BOOLEAN TRUE } end-of-contents
    { name: 'one item', hex: '30800101ff0000', children: [0] },
  ])('BER: $name', ({ hex, children }) => {
    const der = Buffer.from(hex, 'hex');
    const node = parseDer(der, 'ber', der.length);
    expect(node.children.map((c) => c.children.length)).toEqual(children);
    expect(node.end).toBe(der.length);
  });

  it.each([
    { name: 'trailing bytes', hex: '0500ff', error: /trailing/ },
    { name: 'unterminated indefinite length', hex: '3080020101', error: /truncated|malformed/ },
    { name: 'length beyond input', hex: '3005020101', error: /beyond|malformed/ },
    { name: 'primitive SEQUENCE', hex: '1000', error: /wrong form|malformed/ },
    { name: 'too many elements', hex: '3006020101020101', error: /too many|malformed/, maxNodes: 2 },
  ])('refuses $name', ({ hex, error, maxNodes }) => {
    const der = Buffer.from(hex, 'hex');
    expect(() => parseDer(der, 'input', der.length, maxNodes ? { maxNodes } : {})).toThrow(error);
  });
});
