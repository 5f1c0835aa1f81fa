import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../core/errors.js';
import {
  encodeDisconnect,
  encodeServerDisconnect,
  parseDisconnect,
  type ServerDisconnectReason,
  serverDisconnectReasons,
} from './disconnect.js';
import {
  type CstpFrame,
  encodeDpdResponse,
  encodeFrame,
  FrameType,
  MAX_FRAME_PAYLOAD,
  writeFrameHeader,
} from './frame.js';
import { CstpFrameDecoder, FrameDecodeError, maxPayloadForMtu } from './frame-decoder.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const plain = (frames: CstpFrame[]) =>
  frames.map((f) => ({ type: f.type, payload: f.payload.toString('hex') }));

/** Byte-exact frames as openconnect (cstp.c) and ocserv (worker-vpn.c) build them. */
const goodFixtures = [
  { name: 'openconnect keepalive_pkt', bytes: '53544601 0000 07 00', frames: [{ type: 7, payload: '' }] },
  { name: 'openconnect dpd_pkt', bytes: '53544601 0000 03 00', frames: [{ type: 3, payload: '' }] },
  { name: 'openconnect dpd_resp_pkt', bytes: '53544601 0000 04 00', frames: [{ type: 4, payload: '' }] },
  {
    name: 'ocserv cstp_send_terminate (empty DISCONNECT)',
    bytes: '53544601 0000 05 00',
    frames: [{ type: 5, payload: '' }],
  },
  {
    name: 'openconnect BYE "Aborted by caller"',
    bytes: '53544601 0012 05 00 b0 41626f727465642062792063616c6c6572',
    frames: [{ type: 5, payload: 'b041626f727465642062792063616c6c6572' }],
  },
  { name: 'server kick', bytes: '53544601 0000 09 00', frames: [{ type: 9, payload: '' }] },
  {
    name: 'DATA with a 20-byte IPv4 header',
    bytes: '53544601 0014 00 00 4500001400004000400100000ac864370ac80235',
    frames: [{ type: 0, payload: '4500001400004000400100000ac864370ac80235' }],
  },
  {
    name: 'DPD request with padding, then DATA, then keepalive',
    bytes: '53544601 0003 03 00 000000 53544601 0001 00 00 ff 53544601 0000 07 00',
    frames: [
      { type: 3, payload: '000000' },
      { type: 0, payload: 'ff' },
      { type: 7, payload: '' },
    ],
  },
];

const badFixtures: { name: string; bytes: string; check: string }[] = [
  { name: 'HTTP instead of CSTP', bytes: '47455420 2f204854', check: 'magic' },
  { name: 'version byte 2', bytes: '53544602 0000 07 00', check: 'magic' },
  { name: 'byte 7 not zero', bytes: '53544601 0000 07 01', check: 'reserved-byte' },
  { name: 'unknown type 0x06', bytes: '53544601 0000 06 00', check: 'type' },
  { name: 'unknown type 0xff', bytes: '53544601 0000 ff 00', check: 'type' },
  { name: 'COMPRESSED never negotiated', bytes: '53544601 0001 08 00 00', check: 'compressed' },
  { name: 'payload over the limit', bytes: '53544601 ffff 00 00', check: 'length' },
];

/** Feeds `stream` split at the given cut points; returns decoded frames. */
function decodeSplit(stream: Buffer, cuts: number[], decoder = new CstpFrameDecoder()): CstpFrame[] {
  const frames: CstpFrame[] = [];
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    frames.push(...decoder.push(stream.subarray(from, cut)));
    from = cut;
  }
  return frames;
}

describe('encodeFrame / writeFrameHeader', () => {
  it('builds the 8-byte header of openconnect cstp.c', () => {
    expect(encodeFrame(FrameType.keepalive).toString('hex')).toBe('5354460100000700');
    expect(encodeFrame(FrameType.data, hex('0102')).toString('hex')).toBe('53544601000200000102');
  });

  it('writes headers in place for batching several packets into one buffer', () => {
    const batch = Buffer.alloc(64);
    let at = writeFrameHeader(batch, 0, FrameType.data, 2);
    batch.set([0xaa, 0xbb], at);
    at = writeFrameHeader(batch, at + 2, FrameType.data, 1);
    batch[at] = 0xcc;
    const frames = new CstpFrameDecoder().push(batch.subarray(0, at + 1));
    expect(plain(frames)).toEqual([
      { type: 0, payload: 'aabb' },
      { type: 0, payload: 'cc' },
    ]);
  });

  it('refuses lengths and offsets that do not fit', () => {
    expect(() => writeFrameHeader(Buffer.alloc(8), 1, FrameType.data, 0)).toThrow(RangeError);
    expect(() => writeFrameHeader(Buffer.alloc(8), 0, FrameType.data, MAX_FRAME_PAYLOAD + 1)).toThrow(
      RangeError,
    );
    expect(() => writeFrameHeader(Buffer.alloc(8), 0, FrameType.data, -1)).toThrow(RangeError);
  });

  it('answers a DPD request with the same payload (ocserv parse_data)', () => {
    const request: CstpFrame = { type: FrameType.dpdRequest, payload: hex('010203') };
    expect(encodeDpdResponse(request).toString('hex')).toBe('5354460100030400010203');
  });
});

describe('CstpFrameDecoder on hex fixtures', () => {
  it.each(goodFixtures)('$name, split at every byte boundary', ({ bytes, frames }) => {
    const stream = hex(bytes);
    expect(plain(decodeSplit(stream, []))).toEqual(frames);
    for (let cut = 1; cut < stream.length; cut++) {
      expect(plain(decodeSplit(stream, [cut]))).toEqual(frames);
    }
    const everyByte = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    expect(plain(decodeSplit(stream, everyByte))).toEqual(frames);
  });

  it.each(badFixtures)('rejects $name with check "$check", however split', ({ bytes, check }) => {
    const stream = hex(bytes);
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new CstpFrameDecoder();
      let error: unknown;
      try {
        decodeSplit(stream, [cut], decoder);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(FrameDecodeError);
      expect(error).toBeInstanceOf(DecodeError);
      expect((error as FrameDecodeError).check).toBe(check);
      // A failed stream stays failed: there is no resynchronisation point in CSTP.
      expect(() => decoder.push(encodeFrame(FrameType.keepalive))).toThrow(FrameDecodeError);
    }
  });

  it('returns frames wholly inside a chunk as views of it (no copy)', () => {
    const chunk = Buffer.concat([
      encodeFrame(FrameType.data, hex('aabbcc')),
      encodeFrame(FrameType.data, hex('dd')),
    ]);
    const [first, second] = new CstpFrameDecoder().push(chunk);
    expect(first!.payload.buffer).toBe(chunk.buffer);
    expect(first!.payload.byteOffset).toBe(chunk.byteOffset + 8);
    expect(second!.payload.buffer).toBe(chunk.buffer);
  });

  it('reassembled frames do not alias buffers the caller may reuse', () => {
    const stream = encodeFrame(FrameType.data, hex('01020304'));
    const decoder = new CstpFrameDecoder();
    const reused = Buffer.alloc(stream.length);
    stream.copy(reused, 0, 0, 10);
    expect(decoder.push(reused.subarray(0, 10))).toEqual([]);
    reused.fill(0);
    stream.copy(reused, 0, 10);
    const [frame] = decoder.push(reused.subarray(0, 2));
    reused.fill(0xee);
    expect(frame!.payload.toString('hex')).toBe('01020304');
  });

  it('takes the payload limit from the MTU, capped at 16384', () => {
    expect(new CstpFrameDecoder({ mtu: 1472 }).maxPayload).toBe(maxPayloadForMtu(1472));
    expect(new CstpFrameDecoder({ mtu: 1472 }).maxPayload).toBe(1728);
    expect(new CstpFrameDecoder({ mtu: 9000 }).maxPayload).toBe(9256);
    expect(new CstpFrameDecoder({ mtu: 65535 }).maxPayload).toBe(16384);
    expect(new CstpFrameDecoder({ maxPayload: 100 }).maxPayload).toBe(100);
    expect(() => new CstpFrameDecoder({ maxPayload: 16385 })).toThrow(RangeError);
    const decoder = new CstpFrameDecoder({ maxPayload: 4 });
    expect(decoder.push(encodeFrame(FrameType.data, hex('01020304')))).toHaveLength(1);
    expect(() => decoder.push(encodeFrame(FrameType.data, hex('0102030405')))).toThrow(/length/);
  });

  it('rejects oversized frames from the header alone, before buffering the payload', () => {
    const decoder = new CstpFrameDecoder({ mtu: 1400 });
    expect(() => decoder.push(hex('53544601 4000 00 00'))).toThrow(FrameDecodeError);
  });

  it('finish() reports a stream cut inside a frame', () => {
    const decoder = new CstpFrameDecoder();
    decoder.push(hex('535446010002'));
    expect(decoder.pendingBytes).toBe(6);
    expect(() => decoder.finish()).toThrow(expect.objectContaining({ check: 'truncated' }));
    const clean = new CstpFrameDecoder();
    clean.push(encodeFrame(FrameType.keepalive));
    expect(() => clean.finish()).not.toThrow();
  });

  it('propagates a throwing frame callback and refuses further input', () => {
    const decoder = new CstpFrameDecoder();
    const two = Buffer.concat([
      encodeFrame(FrameType.data, hex('01')),
      encodeFrame(FrameType.data, hex('02')),
    ]);
    expect(() =>
      decoder.pushEach(two, () => {
        throw new Error('consumer bug');
      }),
    ).toThrow('consumer bug');
    expect(() => decoder.push(two)).toThrow(expect.objectContaining({ check: 'consumer' }));
  });
});

describe('CstpFrameDecoder properties', () => {
  const frameArb = fc.record({
    type: fc.constantFrom(
      FrameType.data,
      FrameType.dpdRequest,
      FrameType.dpdResponse,
      FrameType.disconnect,
      FrameType.keepalive,
      FrameType.terminate,
    ),
    payload: fc.uint8Array({ maxLength: 1800 }),
  });

  it('encode → decode round-trips any frames under any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (frames, rawCuts) => {
          const stream = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.payload)));
          const cuts = [...new Set(rawCuts.map((c) => (stream.length ? c % stream.length : 0)))].sort(
            (a, b) => a - b,
          );
          const decoded = decodeSplit(stream, cuts, new CstpFrameDecoder({ maxPayload: MAX_FRAME_PAYLOAD }));
          expect(decoded.map((f) => ({ type: f.type, payload: new Uint8Array(f.payload) }))).toEqual(
            frames.map((f) => ({ type: f.type, payload: new Uint8Array(f.payload) })),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random byte streams only ever throw DecodeError', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }),
        fc.boolean(),
        (chunks, startWithMagic) => {
          const decoder = new CstpFrameDecoder({ maxPayload: 32 });
          const all = startWithMagic ? [hex('53544601'), ...chunks] : chunks;
          try {
            for (const chunk of all) decoder.push(Buffer.from(chunk));
            decoder.finish();
          } catch (e) {
            expect(e).toBeInstanceOf(DecodeError);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('DISCONNECT payloads', () => {
  it("reads openconnect's BYE as a user disconnect (ocserv parse_data)", () => {
    const [bye] = new CstpFrameDecoder().push(
      hex('53544601 0012 05 00 b0 41626f727465642062792063616c6c6572'),
    );
    expect(parseDisconnect(bye!.payload)).toEqual({
      kind: 'user',
      reasonCode: 0xb0,
      message: 'Aborted by caller',
    });
  });

  it('reads an empty DISCONNECT as temporary (AnyConnect reconnects) and others as unrecognized', () => {
    expect(parseDisconnect(Buffer.alloc(0))).toEqual({ kind: 'temporary', message: '' });
    // ocserv vpn.h AC_BYE_VPN_RECONNECT: temporary too; AC_BYE_LOCAL_ERROR / _VPN_PAUSE: not known.
    expect(parseDisconnect(hex('91'))).toEqual({ kind: 'temporary', reasonCode: 0x91, message: '' });
    expect(parseDisconnect(hex('70')).kind).toBe('unrecognized');
    expect(parseDisconnect(hex('d1')).kind).toBe('unrecognized');
    expect(parseDisconnect(hex('01 41 00 42'))).toEqual({
      kind: 'unrecognized',
      reasonCode: 1,
      message: 'A.B',
    });
    expect(parseDisconnect(Buffer.alloc(1000, 0x41)).message).toHaveLength(200);
  });

  it('sends an empty DISCONNECT like ocserv, or reason byte + printable text', () => {
    expect(encodeDisconnect().toString('hex')).toBe('5354460100000500');
    expect(encodeDisconnect('Session revoked').toString('hex')).toBe(
      `53544601001005 00b0${Buffer.from('Session revoked').toString('hex')}`.replace(/ /g, ''),
    );
    expect(encodeDisconnect('a\r\nb\u00e9').subarray(9).toString('latin1')).toBe('a..b.');
  });

  // DISCONNECT (type 5, as ocserv's cstp_send_terminate) + 0xb0 + the reason's text, which
  // openconnect prints as "Received server disconnect: b0 '<text>'".
  const serverDisconnects: [ServerDisconnectReason, string][] = [
    ['idle timeout', '53544601000d0500 b0 69646c652074696d656f7574'],
    ['session timeout', '5354460100100500 b0 73657373696f6e2074696d656f7574'],
    ['DPD timeout', '53544601000c0500 b0 4450442074696d656f7574'],
    ['server shutdown', '5354460100100500 b0 7365727665722073687574646f776e'],
    [
      'disconnected by an administrator',
      '5354460100210500 b0 646973636f6e6e656374656420627920616e2061646d696e6973747261746f72',
    ],
    ['revoked by the cloud', '5354460100150500 b0 7265766f6b65642062792074686520636c6f7564'],
    [
      'replaced by a new connection',
      '53544601001d0500 b0 7265706c616365642062792061206e657720636f6e6e656374696f6e',
    ],
    // Never sent as a frame (the tunnel just closes, so the client reconnects); encodable all the same.
    ['moved to another node', '5354460100160500 b0 6d6f76656420746f20616e6f74686572206e6f6465'],
  ];

  it.each(serverDisconnects)('ends a tunnel for %s with the frame %s', (reason, frame) => {
    const encoded = encodeServerDisconnect(reason);
    expect(encoded.toString('hex')).toBe(frame.replace(/ /g, ''));
    const [decoded] = new CstpFrameDecoder().push(encoded);
    expect(decoded!.type).toBe(FrameType.disconnect);
    expect(parseDisconnect(decoded!.payload)).toEqual({ kind: 'user', reasonCode: 0xb0, message: reason });
  });

  it('has a fixture for every server disconnect reason', () => {
    expect(serverDisconnects.map(([reason]) => reason).sort()).toEqual([...serverDisconnectReasons].sort());
  });
});
