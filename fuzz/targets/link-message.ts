import fc from 'fast-check';
import { LinkDecodeError } from '../../link/schema/decode-error.js';
import { encodeLinkMessage, type LinkSender, parseLinkMessage } from '../../link/schema/parse.js';
import { applyJsonOps, jsonOp } from '../json-mutations.js';
import { type FuzzTarget, invariant } from '../target.js';
import { applyTextOps, textOp } from '../text-mutations.js';

const at = '2026-01-02T03:04:05.000Z';
/** Valid messages of both directions (from link/schema/parse.test.ts), the starting points. */
const seeds: [LinkSender, unknown][] = [
  [
    'appliance',
    {
      v: 1,
      type: 'hello',
      id: 'm-1',
      applianceId: 'a1b2',
      roles: ['gateway', 'connector'],
      version: '0.1.0',
      configVersion: null,
      pendingResults: ['job-1'],
    },
  ],
  [
    'appliance',
    {
      v: 1,
      type: 'health',
      id: 'h1',
      report: {
        cpu: { usagePercent: 12.5, loadAverage1m: 0.3, cores: 2 },
        memory: { usedBytes: 1, totalBytes: 2, rssBytes: 1 },
        disk: { path: '/var/lib/outpost', freeBytes: 10, totalBytes: 20 },
        linkLatencyMs: 3,
        tlsCertExpiry: at,
        agentCertExpiry: null,
        sessions: 4,
        throughput: { rxBytesPerSecond: 1, txBytesPerSecond: 2 },
        internalProbe: { url: 'http://intranet/', ok: true, ms: 5 },
        caReachable: null,
        version: '0.1.0',
      },
    },
  ],
  [
    'appliance',
    {
      v: 1,
      type: 'event',
      id: 'e1',
      at,
      event: {
        kind: 'scep.issued',
        transactionId: 't1',
        serialHex: '0a1b',
        thumbprint: 'ab'.repeat(32),
        notAfter: at,
      },
    },
  ],
  ['appliance', { v: 1, type: 'job.accepted', id: 'x', jobId: 'job-1' }],
  ['appliance', { v: 1, type: 'job.result', id: 'x', jobId: 'j', status: 'done', result: { a: 1 } }],
  [
    'appliance',
    {
      v: 1,
      type: 'job.result',
      id: 'x',
      jobId: 'j',
      status: 'failed',
      error: { code: 'OUTPOST_ERR_CONFLICT', retryable: false, message: 'already revoked' },
    },
  ],
  ['appliance', { v: 1, type: 'config.result', id: 'x', version: 3, status: 'applied' }],
  ['appliance', { v: 1, type: 'renew', id: 'x', csr: '-----BEGIN CERTIFICATE REQUEST-----' }],
  ['appliance', { v: 1, type: 'error', id: 'x', code: 'OUTPOST_ERR_DECODE', message: 'bad' }],
  ['cloud', { v: 1, type: 'welcome', id: 'w', applianceId: 'a', serverTime: at }],
  ['cloud', { v: 1, type: 'config', id: 'c', version: 2, config: { gateway: { listen: '0.0.0.0:443' } } }],
  [
    'cloud',
    {
      v: 1,
      type: 'job',
      id: 'c-9',
      job: { id: 'job-1', kind: 'session.revoke', payload: { user: 'alice' }, createdAt: at },
    },
  ],
  [
    'cloud',
    {
      v: 1,
      type: 'job',
      id: 'c-8',
      job: {
        id: 'job-2',
        kind: 'cert.revoke',
        payload: { serialHex: '0a1b', reason: 'keyCompromise' },
        createdAt: at,
      },
    },
  ],
  ['cloud', { v: 1, type: 'ack', id: 'k', ref: 'x', jobId: 'j' }],
  [
    'cloud',
    {
      v: 1,
      type: 'jwks',
      id: 'j',
      issuer: 'https://cloud',
      keys: [{ kty: 'EC', kid: 'k', crv: 'P-256', x: 'a', y: 'b' }],
    },
  ],
  ['cloud', { v: 1, type: 'renewed', id: 'r', ref: 'x', certificate: 'PEM', chain: ['PEM'] }],
];
const keys = [
  'v',
  'type',
  'id',
  'ref',
  'jobId',
  'job',
  'kind',
  'payload',
  'createdAt',
  'status',
  'result',
  'error',
  'code',
  'message',
  'retryable',
  'config',
  'version',
  'report',
  'roles',
  'applianceId',
  'keys',
  'csr',
  'certificate',
  'chain',
  'event',
  'at',
  'user',
  'device',
];
const textDictionary = [
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '"',
  '\\',
  '\\u0000',
  '\\ud800',
  '1e999',
  '-',
  'null',
  'true',
  '[[[[',
  '{"a":',
  ' ',
  '\u2028',
];

export interface LinkInput {
  sender: LinkSender;
  wire: string | Buffer;
}

/**
 * One WebSocket message of the cloud link (link/schema parseLinkMessage), both directions: valid
 * messages with values of the wrong type, keys missing or added, deep nesting, huge strings, then
 * text damage, sent as a string or as bytes (maybe invalid UTF-8). Invariant: what parses encodes
 * and parses back to the same message.
 */
export function linkMessageTarget(): FuzzTarget<LinkInput> {
  return {
    name: 'link-message',
    arbitrary: fc
      .record({
        seed: fc.nat(seeds.length - 1),
        ops: fc.array(jsonOp(keys), { maxLength: 3 }),
        text: fc.oneof(
          { weight: 4, arbitrary: fc.constant([]) },
          { weight: 1, arbitrary: fc.array(textOp(textDictionary.length), { minLength: 1, maxLength: 3 }) },
        ),
        bytes: fc.oneof(
          { weight: 3, arbitrary: fc.constant(null) },
          { weight: 1, arbitrary: fc.uint8Array({ maxLength: 3 }) },
        ),
        flipSender: fc.boolean(),
      })
      .map(({ seed, ops, text, bytes, flipSender }) => {
        const [sender, message] = seeds[seed]!;
        let json: string;
        try {
          json = JSON.stringify(applyJsonOps(message, ops)) ?? '';
        } catch {
          json = JSON.stringify(message); // too deep for the writer; text ops still nest deeper
        }
        // Past the 1 MiB limit is past the limit; bigger only slows the run.
        json = applyTextOps(json, text, textDictionary).slice(0, 2 * 1024 * 1024);
        const wire = bytes === null ? json : Buffer.concat([Buffer.from(json), bytes]);
        const from: LinkSender = flipSender ? (sender === 'cloud' ? 'appliance' : 'cloud') : sender;
        return { sender: from, wire };
      }),
    check: ({ sender, wire }) => {
      const message = parseLinkMessage(wire, sender);
      let same = false;
      try {
        const encoded = encodeLinkMessage(message, sender);
        same = encodeLinkMessage(parseLinkMessage(encoded, sender), sender) === encoded;
      } catch {
        same = false;
      }
      invariant(same, 'a parsed message does not survive encode + parse');
    },
    isExpectedError: (e) => e instanceof LinkDecodeError,
    show: ({ sender, wire }) =>
      JSON.stringify({ sender, wire: typeof wire === 'string' ? wire : wire.toString('hex') }),
  };
}
