import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { legacySuites, pskPreference } from '../gateway/dtls/cipher-suites.js';
import { type EchoServer, startEchoServer } from '../gateway/dtls/testing/echo-server.js';
import { fixedBytes } from '../gateway/dtls/testing/test-client.js';
import { loadEvp } from '../gateway/tls/evp.js';
import { requirePeers } from './testing/peers.js';

requirePeers('openssl', 'gnutls-cli');

/**
 * The DTLS server of gateway/dtls (handshake state machine, cookies, record layer) on a real UDP
 * socket, against clients built on other DTLS stacks: openssl s_client (OpenSSL 3) and
 * gnutls-cli (GnuTLS, the library Debian's openconnect uses). PSK-NEGOTIATE is a plain DTLS 1.2
 * PSK handshake; the legacy protocol is a session resumption, which s_client does from a session
 * file built the way openconnect's OpenSSL backend builds it (openssl-dtls.c
 * generate_dtls_session). The server echoes every record upper-cased.
 */
const evp = loadEvp()!;
const psk = fixedBytes('interop psk', 32);
const work = mkdtempSync(join(tmpdir(), 'outpost-dtls-'));
let server: EchoServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a client, types `line` into it, and waits (≤ `ms`) until its output matches `until`. */
function talk(program: string, args: string[], line: string, until: RegExp, ms = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const done = () => {
      clearTimeout(timer);
      child.kill('SIGTERM');
      resolve(out);
    };
    const timer = setTimeout(done, ms);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (until.test(out)) done();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', () => done());
    // Give the handshake a moment, then send one line; keep stdin open (EOF would close the client).
    setTimeout(() => child.stdin.write(`${line}\n`), 700);
  });
}

/** `openssl s_client` in DTLS 1.2 towards the server, with `args`; see `talk`. */
function sClient(args: string[], line: string, ms?: number): Promise<string> {
  const connect = ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${server!.port}`];
  return talk('openssl', [...connect, ...args], line, /PING/, ms);
}

/** An OpenSSL SSL_SESSION in PEM (what `-sess_in` reads), as openconnect builds one for legacy DTLS. */
function sessionFile(cipherId: number, sessionId: Buffer, master: Buffer): string {
  const octet = (b: Buffer) => Buffer.concat([Buffer.of(0x04, b.length), b]);
  const cid = Buffer.alloc(2);
  cid.writeUInt16BE(cipherId);
  const body = Buffer.concat([
    Buffer.from('020101', 'hex'), // INTEGER 1: SSL_SESSION_ASN1_VERSION
    Buffer.from('020300fefd', 'hex'), // INTEGER 0xfefd: DTLS 1.2
    octet(cid),
    octet(sessionId),
    octet(master),
  ]);
  const der = Buffer.concat([Buffer.of(0x30, body.length), body]);
  const file = join(work, `session-${cipherId.toString(16)}.pem`);
  writeFileSync(
    file,
    `-----BEGIN SSL SESSION PARAMETERS-----\n${der.toString('base64')}\n-----END SSL SESSION PARAMETERS-----\n`,
  );
  return file;
}

describe('DTLS 1.2 PSK (PSK-NEGOTIATE) against other stacks', () => {
  it.each([
    ['PSK-AES128-GCM-SHA256', 'TLS_PSK_WITH_AES_128_GCM_SHA256'],
    ['PSK-AES256-GCM-SHA384', 'TLS_PSK_WITH_AES_256_GCM_SHA384'],
    ['PSK-CHACHA20-POLY1305', 'TLS_PSK_WITH_CHACHA20_POLY1305_SHA256'],
  ])('openssl s_client -cipher %s: cookie exchange, handshake, data both ways', async (cipher, suite) => {
    server = await startEchoServer(evp, { mode: 'psk', psk, suites: pskPreference() });
    const out = await sClient(
      ['-psk', psk.toString('hex'), '-psk_identity', 'psk', '-cipher', cipher],
      `ping ${cipher}`,
    );
    expect(out).toContain(`PING ${cipher}`);
    expect(out).toContain(`Cipher is ${cipher}`);
    expect(server.events).toEqual(['hello-verify', 'handshake-started', 'established']);
    expect(server.channels.map((c) => c.protocol)).toEqual([`DTLSv1.2 ${suite}`]);
    expect(server.received.map(String)).toEqual([`ping ${cipher}\n`]);
  });

  it('gnutls-cli --udp with openconnect priority string (GnuTLS picks from our preference)', async () => {
    server = await startEchoServer(evp, { mode: 'psk', psk, suites: pskPreference() });
    const out = await talk(
      'gnutls-cli',
      [
        '--udp',
        '--port',
        String(server.port),
        '--priority',
        'NORMAL:-VERS-SSL3.0:+SHA256:%COMPAT:-VERS-TLS-ALL:+VERS-DTLS-ALL:-KX-ALL:+PSK',
        '--pskusername',
        'psk',
        '--pskkey',
        psk.toString('hex'),
        '127.0.0.1',
      ],
      'ping gnutls',
      /PING GNUTLS/,
    );
    expect(out).toContain('(DTLS1.2');
    expect(out).toContain('(PSK)-(AES-128-GCM)');
    expect(out).toContain('PING GNUTLS');
  });

  it('a client with another PSK gets no channel', async () => {
    server = await startEchoServer(evp, { mode: 'psk', psk, suites: pskPreference() });
    // The client keeps retrying its Finished; 3 s show that nothing came back.
    const out = await sClient(['-psk', 'ab'.repeat(32), '-psk_identity', 'psk'], 'ping', 3000);
    expect(out).not.toContain('PING');
    expect(server.channels).toEqual([]);
  });
});

describe('legacy DTLS (X-DTLS-Session-ID / X-DTLS-Master-Secret resumption) against openssl s_client', () => {
  const sessionId = fixedBytes('interop session id', 32);
  const master = fixedBytes('interop master secret', 48);
  it.each([
    ['OC-DTLS1_2-AES128-GCM', 'AES128-GCM-SHA256', []],
    ['OC-DTLS1_2-AES256-GCM', 'AES256-GCM-SHA384', []],
    ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', []],
    ['ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', []],
    // s_client offers PSK suites only with a PSK configured; it is not used when resuming.
    ['OC2-DTLS1_2-CHACHA20-POLY1305', 'PSK-CHACHA20-POLY1305', ['-psk', 'aabb']],
  ])('%s: the client resumes the agreed session (s_client -cipher %s)', async (name, cipher, extra) => {
    const suite = legacySuites.find((s) => s.name === name)!.suite;
    server = await startEchoServer(evp, { mode: 'legacy', sessionId, masterSecret: master, suite });
    const out = await sClient(
      [
        '-sess_in',
        sessionFile(suite.id, sessionId, master),
        // This "resumption" of a session that never had a handshake carries no
        // renegotiation_info, as ocserv's does not (OpenSSL 3 wants it unless told otherwise).
        '-legacy_server_connect',
        '-cipher',
        cipher,
        ...extra,
      ],
      `ping ${name}`,
    );
    expect(out).toContain(`Reused, TLSv1.2, Cipher is ${cipher}`);
    expect(out).toContain(`PING ${name}`);
    expect(server.channels.map((c) => c.mode)).toEqual(['legacy']);
  });

  it('a client resuming with another master secret gets no channel', async () => {
    const suite = legacySuites[0]!.suite;
    server = await startEchoServer(evp, { mode: 'legacy', sessionId, masterSecret: master, suite });
    const out = await sClient(
      [
        '-sess_in',
        sessionFile(suite.id, sessionId, fixedBytes('another master', 48)),
        '-legacy_server_connect',
        '-cipher',
        'AES128-GCM-SHA256',
      ],
      'ping',
      3000,
    );
    expect(out).not.toContain('PING');
    expect(server.channels).toEqual([]);
  });
});
