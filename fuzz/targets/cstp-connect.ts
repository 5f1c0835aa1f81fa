import fc from 'fast-check';
import { DecodeError } from '../../core/errors.js';
import { type HeaderMap, parseConnectRequest } from '../../gateway/cstp/index.js';
import { repoFile } from '../repo-file.js';
import type { FuzzTarget } from '../target.js';
import { applyTextOps, textOp } from '../text-mutations.js';

/** The CONNECT /CSCOSSLC/tunnel headers openconnect 9.01 sent (transcript sections A–C), as Node's req.headers. */
function seeds(): Record<string, string>[] {
  const lines = repoFile('gateway/cstp/fixtures/ocserv-1.1.6-openconnect-9.01.txt')
    .toString('utf8')
    .split('\n');
  const requests: Record<string, string>[] = [];
  let current: Record<string, string> | undefined;
  for (const line of lines) {
    if (line === '> CONNECT /CSCOSSLC/tunnel HTTP/1.1') current = {};
    else if (current && line === '> ') {
      requests.push(current);
      current = undefined;
    } else if (current) {
      const m = /^> ([^:]+): (.*)$/.exec(line);
      if (m) current[m[1]!.toLowerCase()] = m[2]!;
    }
  }
  if (requests.length === 0) throw new Error('no CONNECT request in the transcript');
  return requests;
}

const headerNames = [
  'cookie',
  'x-cstp-base-mtu',
  'x-cstp-mtu',
  'x-cstp-address-type',
  'x-cstp-full-ipv6-capability',
  'x-cstp-address',
  'x-cstp-hostname',
  'x-cstp-accept-encoding',
  'x-anyconnect-identifier-platform',
  'x-anyconnect-platform',
  'x-anyconnect-identifier-device-uniqueid',
  'x-anyconnect-identifier-platform-version',
  'x-anyconnect-identifier-device-type',
  'user-agent',
  'x-dtls-master-secret',
  'x-dtls-ciphersuite',
  'x-dtls12-ciphersuite',
  'x-cstp-version',
];
const dictionary = [
  ';',
  '; ',
  '=',
  'webvpn=',
  'webvpn',
  ',',
  ' ',
  '\t',
  '0',
  '65535',
  '99999999',
  '-1',
  '1e3',
  'IPv4',
  'IPv6',
  'true',
  '10.0.0.1',
  '::1',
  'fe80::1%eth0',
  '255.255.255.255',
  'oc-lz4',
  'lzs',
  'apple-ios',
  'android',
  '\u00e9',
  '\0',
  'x'.repeat(600),
];

const edit = fc.record({
  name: fc.nat(headerNames.length - 1),
  value: fc.oneof(
    fc.constant(null),
    fc.string({ maxLength: 40 }),
    fc.array(fc.string({ maxLength: 20 }), { minLength: 2, maxLength: 3 }),
    fc
      .array(textOp(dictionary.length), { minLength: 1, maxLength: 3 })
      .map((ops) => applyTextOps('', ops, dictionary)),
  ),
  textOps: fc.array(textOp(dictionary.length), { maxLength: 3 }),
});

/** CONNECT request headers (gateway/cstp parseConnectRequest): cookie, MTUs, addresses, identity. */
export function cstpConnectTarget(): FuzzTarget<HeaderMap> {
  const requests = seeds();
  return {
    name: 'cstp-connect',
    arbitrary: fc.tuple(fc.nat(requests.length - 1), fc.array(edit, { maxLength: 5 })).map(([i, edits]) => {
      const headers: HeaderMap = { ...requests[i]! };
      for (const e of edits) {
        const name = headerNames[e.name]!;
        const current = headers[name];
        if (e.value === null) delete headers[name];
        else if (typeof current === 'string' && e.textOps.length > 0)
          headers[name] = applyTextOps(current, e.textOps, dictionary);
        else headers[name] = e.value;
      }
      return headers;
    }),
    check: (headers) => void parseConnectRequest(headers),
    isExpectedError: (e) => e instanceof DecodeError,
    show: (headers) => JSON.stringify(headers),
  };
}
