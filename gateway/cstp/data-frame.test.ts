import { describe, expect, it } from 'vitest';
import { wholeDataFrameLength } from './data-frame.js';

/** Hex with spaces for readability → bytes. */
function bytes(hex: string): Buffer {
  return Buffer.from(hex.replace(/\s/g, ''), 'hex');
}

describe('wholeDataFrameLength', () => {
  // [what, bytes before the frame, frame bytes (hex), bytes after it (outside [start, end)), maxPayload, expected]
  const cases: Array<[string, number, string, number, number, number]> = [
    ['one DATA frame', 0, '53544601 0004 00 00 45000004', 0, 1500, 4],
    ['one DATA frame inside a larger buffer', 5, '53544601 0002 00 00 abcd', 3, 1500, 2],
    ['an empty DATA frame', 0, '53544601 0000 00 00', 0, 1500, 0],
    ['payload exactly maxPayload', 0, '53544601 0003 00 00 010203', 0, 3, 3],
    ['payload over maxPayload', 0, '53544601 0004 00 00 01020304', 0, 3, -1],
    ['shorter than a header', 0, '53544601 0000 00', 0, 1500, -1],
    ['nothing', 0, '', 0, 1500, -1],
    ['bad magic byte 0', 0, '54544601 0001 00 00 ff', 0, 1500, -1],
    ['bad magic byte 3', 0, '53544602 0001 00 00 ff', 0, 1500, -1],
    ['DPD request, not DATA', 0, '53544601 0000 03 00', 0, 1500, -1],
    ['keepalive, not DATA', 0, '53544601 0000 07 00', 0, 1500, -1],
    ['reserved byte not 0', 0, '53544601 0001 00 01 ff', 0, 1500, -1],
    ['length announces more than present (split frame)', 0, '53544601 0005 00 00 ffff', 0, 1500, -1],
    ['length announces less than present (merged frames)', 0, '53544601 0001 00 00 ffff', 0, 1500, -1],
    ['two whole frames in one record', 0, '53544601 0001 00 00 aa 53544601 0001 00 00 bb', 0, 1500, -1],
    ['high length byte counts', 0, `53544601 0100 00 00 ${'00'.repeat(256)}`, 0, 1500, 256],
  ];

  it.each(cases)('%s', (_what, before, frameHex, after, maxPayload, expected) => {
    const frame = bytes(frameHex);
    const buffer = Buffer.concat([Buffer.alloc(before, 0x53), frame, Buffer.alloc(after, 0x00)]);
    expect(wholeDataFrameLength(buffer, before, before + frame.length, maxPayload)).toBe(expected);
  });
});
