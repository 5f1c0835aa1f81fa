import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../core/errors.js';
import { buildAuthComplete } from './auth-complete.js';
import { buildAuthRequest } from './auth-request.js';
import { parseConfigAuth } from './config-auth.js';
import { clientXmlBodies, serverBodyLengths, serverXmlBodies } from './testing/transcript.js';
import { readXml } from './xml-reader.js';

const limits = { maxBytes: 16384 };
const head = '<?xml version="1.0" encoding="UTF-8"?>\n';

describe('parseConfigAuth on what openconnect 9.01 sent (transcript)', () => {
  const [init, usernameReply, passwordReply] = clientXmlBodies('A').map((xml) => `${head}${xml}`);
  const common = {
    clientVersion: 'v9.01-3',
    deviceId: { platform: 'linux-64' },
    authMethods: ['single-sign-on-v2', 'single-sign-on-external-browser'],
  };

  it('reads the init request', () => {
    expect(parseConfigAuth(init!, limits)).toEqual({
      type: 'init',
      ...common,
      groupAccess: 'https://10.200.1.1/',
    });
  });

  it('reads the username reply', () => {
    expect(parseConfigAuth(usernameReply!, limits)).toEqual({
      type: 'auth-reply',
      ...common,
      auth: { username: 'bench', fields: {} },
    });
  });

  it('reads the password reply', () => {
    expect(parseConfigAuth(passwordReply!, limits)).toEqual({
      type: 'auth-reply',
      ...common,
      auth: { password: 'benchpass', fields: {} },
    });
  });

  it('reads the certificate-auth init of section C', () => {
    expect(parseConfigAuth(`${head}${clientXmlBodies('C')[0]}`, limits)).toMatchObject({ type: 'init' });
  });

  it('reads mobile device identity, group-select, other fields and the echoed opaque', () => {
    const xml =
      `${head}<config-auth client="vpn" type="auth-reply" aggregate-auth-version="2">` +
      '<version who="vpn">4.10.07061</version>' +
      '<device-id platform-version="17.5" device-type="iPhone15,2" unique-id="A1B2">apple-ios</device-id>' +
      '<opaque is-for="sg">\n<auth-handle>42</auth-handle>\n<tunnel-group>corp</tunnel-group>\n</opaque>' +
      '<group-select>engineering</group-select>' +
      '<auth><username>al&amp;ice</username><password> p&lt;w&#x263A;&#65; </password>' +
      '<secondary_password>123456</secondary_password></auth></config-auth>';
    expect(parseConfigAuth(xml, limits)).toEqual({
      type: 'auth-reply',
      clientVersion: '4.10.07061',
      deviceId: {
        platform: 'apple-ios',
        platformVersion: '17.5',
        deviceType: 'iPhone15,2',
        uniqueId: 'A1B2',
      },
      authMethods: [],
      opaque: { 'auth-handle': '42', 'tunnel-group': 'corp' },
      groupSelect: 'engineering',
      auth: { username: 'al&ice', password: ' p<w\u263AA ', fields: { secondary_password: '123456' } },
    });
  });
});

describe('buildAuthRequest / buildAuthComplete reproduce ocserv byte for byte', () => {
  const bodies = serverXmlBodies('A');
  const lengths = serverBodyLengths('A');

  it('username form (section A, 306 bytes)', () => {
    const xml = buildAuthRequest({
      message: 'Please enter your username.',
      fields: [{ type: 'text', name: 'username', label: 'Username:' }],
    });
    expect(xml).toBe(bodies[0]);
    expect(Buffer.byteLength(xml)).toBe(lengths[0]);
    expect(lengths[0]).toBe(306);
  });

  it('password form (section A, 310 bytes)', () => {
    const xml = buildAuthRequest({
      formId: 'main',
      message: 'Please enter your password.',
      fields: [{ type: 'password', name: 'password', label: 'Password:' }],
    });
    expect(xml).toBe(bodies[1]);
    expect(Buffer.byteLength(xml)).toBe(lengths[1]);
  });

  it('success (sections A and C, 189 bytes; the transcript drops the final newline)', () => {
    const xml = buildAuthComplete();
    expect(xml).toBe(`${bodies[2]}\n`);
    expect(Buffer.byteLength(xml)).toBe(lengths[2]);
    expect(xml).toBe(`${serverXmlBodies('C')[0]}\n`);
    expect(Buffer.byteLength(xml)).toBe(serverBodyLengths('C')[0]);
  });

  it('offers groups with the selected one first, as ocserv does', () => {
    const xml = buildAuthRequest({
      message: 'Please enter your username.',
      fields: [{ type: 'text', name: 'username', label: 'Username:' }],
      groups: ['staff', 'engineering', 'guests'],
      selectedGroup: 'engineering',
    });
    expect(xml).toContain(
      '<input type="text" name="username" label="Username:" />\n' +
        '<select name="group_list" label="Group:">\n' +
        '<option value="engineering">engineering</option>\n' +
        '<option value="staff">staff</option>\n' +
        '<option value="guests">guests</option>\n' +
        '</select>\n</form></auth>\n</config-auth>',
    );
  });

  it('escapes text and attributes, and what it writes reads back', () => {
    const xml = buildAuthRequest({
      message: 'a<b & "c"',
      error: 'Login failed <again>',
      banner: "Don't\u0000 panic",
      fields: [{ type: 'password', name: 'password', label: 'Pass"word\'<&>\n' }],
      groups: ['R&D "lab"'],
      opaque: { 'auth-handle': '<1&2>' },
    });
    const root = readXml(xml, limits);
    const auth = root.children.find((c) => c.name === 'auth')!;
    const text = (name: string) => auth.children.find((c) => c.name === name)?.text;
    expect(text('message')).toBe('a<b & "c"');
    expect(text('error')).toBe('Login failed <again>');
    expect(text('banner')).toBe("Don't panic");
    const form = auth.children.find((c) => c.name === 'form')!;
    expect(form.children[0]!.attributes.get('label')).toBe('Pass"word\'<&>\n');
    expect(form.children[1]!.children[0]!.attributes.get('value')).toBe('R&D "lab"');
    expect(root.children.find((c) => c.name === 'opaque')!.children[0]!.text).toBe('<1&2>');
  });

  it('puts the session token where openconnect reads it and escapes it', () => {
    const xml = buildAuthComplete({ sessionToken: 'abc&def', banner: 'Hi', message: 'ok' });
    expect(xml).toBe(
      `${head}<config-auth client="vpn" type="complete">\n<version who="sg">0.1(1)</version>\n` +
        '<auth id="success">\n<title>SSL VPN Service</title><message>ok</message><banner>Hi</banner></auth>' +
        '<session-token>abc&amp;def</session-token></config-auth>\n',
    );
  });

  it('refuses field names openconnect could not turn into elements', () => {
    for (const name of ['1st', 'a b', 'x<y', '', 'xmlfoo']) {
      expect(() => buildAuthRequest({ fields: [{ type: 'text', name, label: 'x' }] })).toThrow();
    }
  });

  it('the opaque block survives the round trip through a client echo', () => {
    const request = buildAuthRequest({ fields: [], opaque: { 'auth-handle': '7', 'config-hash': 'x&y' } });
    const opaque = /<opaque[\s\S]*<\/opaque>/.exec(request)![0];
    const reply = `${head}<config-auth client="vpn" type="auth-reply">${opaque}<auth><password>p</password></auth></config-auth>`;
    expect(parseConfigAuth(reply, limits).opaque).toEqual({ 'auth-handle': '7', 'config-hash': 'x&y' });
  });
});

describe('parseConfigAuth refuses dangerous and malformed input with DecodeError', () => {
  const billionLaughs =
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n' +
    ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n' +
    ' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n]>\n' +
    '<config-auth client="vpn" type="auth-reply"><auth><username>&lol3;</username></auth></config-auth>';
  const externalEntity =
    '<?xml version="1.0"?>\n<!DOCTYPE config-auth [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n' +
    '<config-auth client="vpn" type="auth-reply"><auth><username>&xxe;</username></auth></config-auth>';
  const reply = (auth: string) =>
    `<config-auth client="vpn" type="auth-reply"><auth>${auth}</auth></config-auth>`;
  const nested = (depth: number) => `${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}`;

  it.each([
    ['billion laughs', billionLaughs, /DOCTYPE/],
    ['external entity (XXE)', externalEntity, /DOCTYPE/],
    ['undeclared entity', reply('<username>&xxe;</username>'), /entity/],
    ['bare ampersand', reply('<username>a & b</username>'), /"&"/],
    ['NUL character reference', reply('<username>&#0;</username>'), /character reference/],
    ['surrogate character reference', reply('<username>&#xD800;</username>'), /character reference/],
    ['raw control character', reply('<username>a\u0001</username>'), /forbidden character/],
    ['processing instruction', `<?php x ?>${reply('')}`, /processing/],
    ['PI inside', reply('<?x y?>'), /processing/],
    ['too deep', `<config-auth type="init">${nested(20)}</config-auth>`, /deeper/],
    ['too many elements', `<config-auth type="init">${'<a/>'.repeat(300)}</config-auth>`, /more than 256/],
    ['too large', reply(`<password>${'x'.repeat(17000)}</password>`), /larger/],
    ['too large in UTF-8 only', reply(`<password>${'\u00e9'.repeat(8200)}</password>`), /larger/],
    ['two usernames', reply('<username>a</username><username>b</username>'), /more than one/],
    ['markup inside password', reply('<password><b>x</b></password>'), /only text/],
    ['wrong root', '<auth><username>a</username></auth>', /config-auth/],
    ['unknown type', '<config-auth client="vpn" type="logout"/>', /type/],
    ['auth-reply without auth', '<config-auth client="vpn" type="auth-reply"/>', /without <auth>/],
    ['mismatched tags', reply('<username>a</password>'), /closes/],
    ['unclosed', '<config-auth type="init"><version>', /unclosed/],
    ['duplicate attribute', '<config-auth type="init" type="init"/>', /duplicate/],
    ['text after root', `${reply('')}trailing`, /after the root/],
    ['two roots', `${reply('')}${reply('')}`, /after the root/],
    ['non-UTF-8 encoding', `<?xml version="1.0" encoding="ISO-8859-1"?>${reply('')}`, /encoding/],
    ['CDATA-looking declaration outside root', `<![CDATA[x]]>${reply('')}`, /DOCTYPE|declarations/],
    ['empty document', '', /root/],
  ])('%s', (_name, xml, message) => {
    let error: unknown;
    try {
      parseConfigAuth(xml, limits);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DecodeError);
    expect(String((error as Error).message)).toMatch(message);
  });

  it('accepts comments, CDATA, single quotes, a BOM and CRLF', () => {
    const xml =
      "\uFEFF<?xml version='1.0' encoding='utf-8'?>\r\n<!-- hi -->\r\n<config-auth client='vpn' type='auth-reply'>" +
      '<auth><password><![CDATA[a<b&c]]></password><username>u<!-- c -->v</username></auth></config-auth>\r\n';
    expect(parseConfigAuth(xml, limits)).toMatchObject({ auth: { username: 'uv', password: 'a<b&c' } });
  });

  it('throws only DecodeError on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (xml) => {
        try {
          parseConfigAuth(xml, limits);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('throws only DecodeError on mutations of a real body', () => {
    const seed = `${head}${clientXmlBodies('A')[2]}`;
    const alphabet = fc.constantFrom(
      '<',
      '>',
      '&',
      ';',
      '"',
      "'",
      '/',
      '!',
      '?',
      '=',
      '#',
      'x',
      ' ',
      '[',
      ']',
      '-',
      '\u0000',
      '\uD800',
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(seed.length), fc.nat(5), fc.string({ unit: alphabet, maxLength: 6 })), {
          minLength: 1,
          maxLength: 5,
        }),
        (edits) => {
          let xml = seed;
          for (const [at, remove, insert] of edits) xml = xml.slice(0, at) + insert + xml.slice(at + remove);
          try {
            parseConfigAuth(xml, limits);
          } catch (e) {
            expect(e).toBeInstanceOf(DecodeError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
