import fc from 'fast-check';
import { LinkDecodeError } from '../../link/schema/decode-error.js';
import { encodeLinkMessage, type LinkSender, parseLinkMessage } from '../../link/schema/parse.js';
import { applianceExamples, cloudExamples, exampleTime } from '../../link/schema/testing/example-messages.js';
import { applyJsonOps, jsonOp } from '../json-mutations.js';
import { type FuzzTarget, invariant } from '../target.js';
import { applyTextOps, textOp } from '../text-mutations.js';

/** Valid messages of both directions (link/schema/testing/example-messages.ts), the starting points. */
const seeds: [LinkSender, unknown][] = [
  ...applianceExamples.map(([, message]): [LinkSender, unknown] => ['appliance', message]),
  ...cloudExamples.map(([, message]): [LinkSender, unknown] => ['cloud', message]),
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
        createdAt: exampleTime,
      },
    },
  ],
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
  'reason',
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
