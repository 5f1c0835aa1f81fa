import fc from 'fast-check';
import { DecodeError } from '../../core/errors.js';
import { parseConfigAuth } from '../../gateway/cstp/index.js';
import { repoFile } from '../repo-file.js';
import type { FuzzTarget } from '../target.js';
import { applyTextOps, textOp } from '../text-mutations.js';

const head = '<?xml version="1.0" encoding="UTF-8"?>\n';
/** The gateway's limit for an auth POST body (gateway/control/auth-dialogue.ts). */
const limits = { maxBytes: 64 * 1024 };

/** What openconnect 9.01 sent ocserv (the transcript the codec tests use) and an AnyConnect mobile reply. */
function seeds(): string[] {
  const transcript = repoFile('gateway/cstp/fixtures/ocserv-1.1.6-openconnect-9.01.txt').toString('utf8');
  const client = transcript
    .split('\n')
    .filter((l) => l.startsWith('> <config-auth'))
    .map((l) => l.slice(2));
  const mobile =
    '<config-auth client="vpn" type="auth-reply" aggregate-auth-version="2">' +
    '<version who="vpn">4.10.07061</version>' +
    '<device-id platform-version="17.5" device-type="iPhone15,2" unique-id="A1B2">apple-ios</device-id>' +
    '<opaque is-for="sg">\n<auth-handle>42</auth-handle>\n<tunnel-group>corp</tunnel-group>\n</opaque>' +
    '<group-select>engineering</group-select>' +
    '<auth><username>al&amp;ice</username><password> p&lt;w&#x263A;&#65; </password>' +
    '<secondary_password>123456</secondary_password></auth></config-auth>';
  return [...new Set(client), mobile].flatMap((xml) => [xml, head + xml]);
}

/** Syntax of the format and of the dangerous XML features the reader must refuse. */
const dictionary = [
  '<',
  '>',
  '/>',
  '</',
  '<auth>',
  '</auth>',
  '<username>',
  '</username>',
  '<password>',
  '<opaque>',
  '</opaque>',
  '<group-select>',
  '<device-id>',
  '<capabilities>',
  '<auth-method>',
  '<version who="vpn">',
  '<a>',
  '</a>',
  ' x="1"',
  ' type="init"',
  ' type="auth-reply"',
  " type='init'",
  ' a="',
  '"',
  "'",
  '=',
  '&amp;',
  '&lt;',
  '&gt;',
  '&quot;',
  '&apos;',
  '&#65;',
  '&#x263A;',
  '&#0;',
  '&#x110000;',
  '&#xD800;',
  '&#99999999999;',
  '&#;',
  '&#x;',
  '&lol;',
  '&',
  '&amp',
  '<![CDATA[',
  ']]>',
  '<!-- c -->',
  '<!--',
  '-->',
  '<!---->',
  '<!DOCTYPE config-auth [<!ENTITY lol "lol">]>',
  '<!DOCTYPE x SYSTEM "file:///etc/passwd">',
  '<!ENTITY x "y">',
  '<?xml version="1.0"?>',
  '<?pi data?>',
  '<?xml-stylesheet?>',
  '\u0000',
  '\u0001',
  '\uFFFE',
  '\uD800',
  '\r\n',
  '\r',
  'xmlns="urn:x"',
  'xmlns:a="urn:a"',
  '<a:b>',
  '\u00e9',
  '\u{1F600}',
];

/** A random element tree in the config-auth vocabulary: the shape right, the details not. */
const names = fc.constantFrom(
  'config-auth',
  'auth',
  'username',
  'password',
  'opaque',
  'version',
  'device-id',
  'group-select',
  'group-access',
  'capabilities',
  'auth-method',
  'x',
);
const attribute = fc.tuple(
  fc.constantFrom(
    'type',
    'client',
    'who',
    'platform-version',
    'device-type',
    'unique-id',
    'aggregate-auth-version',
    'is-for',
    'a',
  ),
  fc.oneof(
    fc.constantFrom('init', 'auth-reply', 'vpn', '2'),
    fc.string({ maxLength: 12 }),
    fc.constant('A'.repeat(70000)),
  ),
);
function element(depth: number): fc.Arbitrary<string> {
  return fc
    .record({
      name: names,
      attributes: fc.array(attribute, { maxLength: 4 }),
      children: depth === 0 ? fc.constant([]) : fc.array(element(depth - 1), { maxLength: 3 }),
      text: fc.oneof(
        fc.constant(''),
        fc.string({ maxLength: 16 }),
        fc.constantFrom('&amp;', '&#65;', '<![CDATA[<x>]]>'),
      ),
    })
    .map(({ name, attributes, children, text }) => {
      const attrs = attributes.map(([k, v]) => ` ${k}="${v.replace(/[<&"]/g, '')}"`).join('');
      return `<${name}${attrs}>${text}${children.join('')}</${name}>`;
    });
}
const generated = element(3).map(
  (body) => `<config-auth client="vpn" type="auth-reply">${body}</config-auth>`,
);

export function cstpXmlAuthTarget(): FuzzTarget<string> {
  const docs = seeds();
  const base = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...docs) },
    { weight: 1, arbitrary: generated },
  );
  return {
    name: 'cstp-xml-auth',
    arbitrary: fc
      .tuple(base, fc.array(textOp(dictionary.length), { maxLength: 4 }))
      .map(([doc, ops]) => applyTextOps(doc, ops, dictionary)),
    check: (xml) => void parseConfigAuth(xml, limits),
    isExpectedError: (e) => e instanceof DecodeError,
    show: (xml) => JSON.stringify(xml),
  };
}
