import fc from 'fast-check';
import {
  type CstpFrame,
  CstpFrameDecoder,
  encodeDpdResponse,
  encodeFrame,
  FrameDecodeError,
  FrameType,
  MAX_DISCONNECT_MESSAGE,
  MAX_FRAME_PAYLOAD,
  parseDisconnect,
} from '../../gateway/cstp/index.js';
import { chunking, splitInto } from '../byte-mutations.js';
import { type FuzzTarget, invariant } from '../target.js';

/** One frame as a peer might send it: mostly right, with a wrong magic, type, reserved byte or length now and then. */
const frameSpec = fc.record({
  type: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...Object.values(FrameType)) },
    { weight: 1, arbitrary: fc.nat(255) },
  ),
  payload: fc.oneof(
    { weight: 6, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 2, arbitrary: fc.uint8Array({ minLength: 1200, maxLength: 1800 }) },
    { weight: 1, arbitrary: fc.constant(new Uint8Array(MAX_FRAME_PAYLOAD + 1)) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 220 }).map((t) => Uint8Array.from([0xb0, ...t])) },
  ),
  lengthDelta: fc.oneof(
    { weight: 8, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: -70000, max: 70000 }) },
  ),
  reserved: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(255) }),
  magicError: fc.oneof({ weight: 12, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(3) }),
});
type FrameSpec = typeof frameSpec extends fc.Arbitrary<infer T> ? T : never;

function wireFrame(spec: FrameSpec): Buffer {
  const header = Buffer.from([0x53, 0x54, 0x46, 0x01, 0, 0, spec.type, spec.reserved]);
  header.writeUInt16BE((spec.payload.length + spec.lengthDelta) & 0xffff, 4);
  if (spec.magicError >= 0) header[spec.magicError] = header[spec.magicError]! ^ 0x20;
  return Buffer.concat([header, spec.payload]);
}

export interface CstpFrameInput {
  stream: Buffer;
  cuts: number[];
  maxPayload: number;
}

const input: fc.Arbitrary<CstpFrameInput> = fc.record({
  stream: fc
    .tuple(fc.array(frameSpec, { maxLength: 6 }), fc.uint8Array({ maxLength: 12 }))
    .map(([frames, tail]) => Buffer.concat([...frames.map(wireFrame), tail])),
  cuts: chunking,
  maxPayload: fc.oneof(
    { weight: 4, arbitrary: fc.constant(1500 + 256) },
    { weight: 1, arbitrary: fc.nat(MAX_FRAME_PAYLOAD) },
  ),
});

function decodeAll(chunks: readonly Buffer[], maxPayload: number) {
  const decoder = new CstpFrameDecoder({ maxPayload });
  const frames: CstpFrame[] = [];
  let error: unknown;
  try {
    for (const chunk of chunks)
      decoder.pushEach(chunk, (f) => frames.push({ type: f.type, payload: Buffer.from(f.payload) }));
    decoder.finish();
  } catch (e) {
    error = e;
  }
  return { frames, error, pending: decoder.pendingBytes };
}

/**
 * The tunnel's byte stream (gateway/cstp CstpFrameDecoder) cut into arbitrary chunks, and the
 * DISCONNECT payload reader. Invariants: chunking does not change the result; every decoded frame
 * re-encodes to exactly the bytes it came from; a DPD response is the request with its type flipped.
 */
export function cstpFrameTarget(): FuzzTarget<CstpFrameInput> {
  return {
    name: 'cstp-frame',
    arbitrary: input,
    check: ({ stream, cuts, maxPayload }) => {
      const chunked = decodeAll(splitInto(stream, cuts), maxPayload);
      const whole = decodeAll([stream], maxPayload);
      invariant(chunked.frames.length === whole.frames.length, 'chunking changed the number of frames');
      invariant(
        chunked.frames.every(
          (f, i) => f.type === whole.frames[i]!.type && f.payload.equals(whole.frames[i]!.payload),
        ),
        'chunking changed a frame',
      );
      invariant(
        (chunked.error === undefined) === (whole.error === undefined),
        'chunking changed the outcome',
      );
      const encoded = Buffer.concat(chunked.frames.map((f) => encodeFrame(f.type, f.payload)));
      invariant(
        stream.subarray(0, encoded.length).equals(encoded),
        'a frame does not re-encode to its bytes',
      );
      if (chunked.error === undefined)
        invariant(encoded.length === stream.length, 'bytes left over without an error');
      for (const frame of chunked.frames) {
        if (frame.type === FrameType.disconnect) {
          const bye = parseDisconnect(frame.payload);
          invariant(bye.message.length <= MAX_DISCONNECT_MESSAGE, 'DISCONNECT message over the limit');
        }
        if (frame.type === FrameType.dpdRequest) {
          const reply = encodeDpdResponse(frame);
          invariant(
            reply[6] === FrameType.dpdResponse && reply.subarray(8).equals(frame.payload),
            'DPD response',
          );
        }
      }
      if (chunked.error !== undefined) throw chunked.error;
    },
    isExpectedError: (e) => e instanceof FrameDecodeError,
    show: (i) => JSON.stringify({ stream: i.stream.toString('hex'), cuts: i.cuts, maxPayload: i.maxPayload }),
  };
}
