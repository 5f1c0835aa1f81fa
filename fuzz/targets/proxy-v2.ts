import fc from 'fast-check';
import {
  encodeProxyV2,
  ProxyHeaderError,
  type ProxyV2Parse,
  parseProxyV2,
} from '../../gateway/proxy/proxy-v2.js';
import { applyByteOps, byteOp } from '../byte-mutations.js';
import { type FuzzTarget, invariant, showBytes } from '../target.js';

const endpoint = (v6: boolean) => fc.record({ address: v6 ? fc.ipV6() : fc.ipV4(), port: fc.nat(65535) });

/** Headers as a balancer writes them (IPv4, IPv6, LOCAL, TLVs, CRC), then damaged byte-wise. */
const wellFormed: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constant(encodeProxyV2({ command: 'local' })),
  fc.boolean().chain((v6) =>
    fc
      .record({
        source: endpoint(v6),
        destination: endpoint(v6),
        tlvs: fc.array(fc.record({ type: fc.nat(255), value: fc.uint8Array({ maxLength: 64 }) }), {
          maxLength: 5,
        }),
        crc: fc.boolean(),
      })
      .map((spec) =>
        encodeProxyV2({ command: 'proxy', ...spec, tlvs: spec.tlvs.filter((t) => t.type !== 3) }),
      ),
  ),
);

const input = fc
  .tuple(wellFormed, fc.array(byteOp, { maxLength: 4 }), fc.uint8Array({ maxLength: 16 }))
  .map(([header, ops, tail]) => Buffer.concat([applyByteOps(header, ops), tail]));

function parsePrefixes(bytes: Buffer): ProxyV2Parse {
  let last: ProxyV2Parse = { complete: false, needed: 0 };
  for (let cut = 1; cut <= bytes.length; cut++) {
    last = parseProxyV2(bytes.subarray(0, cut));
    if (last.complete) return last;
    invariant(last.needed > cut, 'an incomplete parse asked for no more bytes');
  }
  return last;
}

/**
 * The PROXY v2 header the gateway reads before TLS (gateway/proxy). Invariants: feeding the bytes
 * one at a time ends the same way as all at once, and never asks for fewer bytes than it has.
 */
export function proxyV2Target(): FuzzTarget<Buffer> {
  return {
    name: 'proxy-v2',
    arbitrary: input,
    check: (bytes) => {
      let whole: ProxyV2Parse | undefined;
      let wholeError: unknown;
      try {
        whole = parseProxyV2(bytes);
      } catch (e) {
        wholeError = e;
      }
      let prefix: ProxyV2Parse | undefined;
      let prefixError: unknown;
      try {
        prefix = parsePrefixes(bytes);
      } catch (e) {
        prefixError = e;
      }
      invariant(
        (wholeError === undefined) === (prefixError === undefined),
        'byte-wise feeding changed the outcome',
      );
      if (whole?.complete && prefix?.complete)
        invariant(whole.length === prefix.length, 'header length differs');
      if (wholeError !== undefined) throw wholeError;
    },
    isExpectedError: (e) => e instanceof ProxyHeaderError,
    show: showBytes,
  };
}
