// Misbehaving CSTP clients, run inside a device namespace by test/openconnect-abuse.test.ts and
// test/openconnect-soak.test.ts.
// Usage: node cstp-abuser.mjs HOST PORT CA CERT KEY [SCENARIO...]  (no SCENARIO: all of them)
// Prints one JSON line per scenario: { scenario, closedAfterMs, reply? }.
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { connect } from 'node:tls';

const [host, port, caFile, certFile, keyFile, ...only] = process.argv.slice(2);
const ca = readFileSync(caFile);
const tlsOptions = { host, port: Number(port), ca, servername: host, checkServerIdentity: () => undefined };

function closed(socket, started, limitMs = 40_000) {
  return new Promise((resolve) => {
    let reply = '';
    socket.on('data', (d) => (reply += d.toString('latin1')));
    const timer = setTimeout(() => resolve({ closedAfterMs: -1, reply: reply.slice(0, 60) }), limitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - started, reply: reply.slice(0, 60) });
    });
    socket.on('error', () => {});
  });
}

function tls(extra = {}) {
  return new Promise((resolve, reject) => {
    const s = connect({ ...tlsOptions, ...extra }, () => resolve(s));
    s.once('error', reject);
  });
}

async function cookie() {
  const s = await tls({ cert: readFileSync(certFile), key: readFileSync(keyFile) });
  const body =
    '<?xml version="1.0" encoding="UTF-8"?><config-auth client="vpn" type="init"><version who="vpn">v9</version></config-auth>';
  s.write(
    `POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/xml\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  const text = await new Promise((resolve) => {
    let t = '';
    s.on('data', (d) => {
      t += d.toString();
      if (t.includes('</config-auth>')) resolve(t);
    });
  });
  s.destroy();
  return /webvpn=([^;]+)/.exec(text)[1];
}

async function afterConnect(name, payload) {
  const value = await cookie();
  const s = await tls();
  s.write(
    `CONNECT /CSCOSSLC/tunnel HTTP/1.1\r\nHost: ${host}\r\nCookie: webvpn=${value}\r\nX-CSTP-Version: 1\r\nX-CSTP-Base-MTU: 1500\r\n\r\n`,
  );
  await new Promise((resolve) => s.once('data', resolve));
  const started = Date.now();
  s.write(payload);
  return { scenario: name, ...(await closed(s, started)) };
}

const scenarios = {
  async 'garbage before CONNECT'() {
    const s = await tls();
    const started = Date.now();
    s.write(Buffer.from('\x00\x01garbage\xff\xfe\r\n\r\n', 'latin1'));
    return closed(s, started);
  },
  async 'slowloris headers'() {
    const s = await tls();
    const started = Date.now();
    s.write('POST / HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => s.writable && s.write('X-Slow: 1\r\n'), 1000);
    const result = await closed(s, started);
    clearInterval(drip);
    return result;
  },
  async 'TCP without a TLS handshake'() {
    const s = tcpConnect({ host, port: Number(port) });
    await new Promise((r) => s.once('connect', r));
    return closed(s, Date.now());
  },
  'garbage after CONNECT': () =>
    afterConnect('garbage after CONNECT', Buffer.from('this is not CSTP at all')),
  'oversized frame': () =>
    afterConnect('oversized frame', Buffer.from([0x53, 0x54, 0x46, 0x01, 0x4e, 0x20, 0x00, 0x00])),
  // Well-framed CSTP DATA carrying random bytes (no valid IP packet: dropped one by one), frames of
  // an unknown type, then a header without the STF magic, which must close this tunnel only.
  'garbage frames': () => {
    const frames = [];
    for (let i = 0; i < 64; i++) {
      const payload = randomBytes(randomInt(1, 1400));
      frames.push(
        Buffer.from([0x53, 0x54, 0x46, 0x01, payload.length >> 8, payload.length & 0xff, 0, 0]),
        payload,
      );
    }
    frames.push(Buffer.from([0x53, 0x54, 0x46, 0x01, 0x00, 0x04, 0x42, 0x00]), randomBytes(4));
    frames.push(Buffer.from('XTF\x01\x00\x10\x00\x00garbage garbage!', 'latin1'));
    return afterConnect('garbage frames', Buffer.concat(frames));
  },
};

await Promise.all(
  Object.entries(scenarios)
    .filter(([scenario]) => only.length === 0 || only.includes(scenario))
    .map(async ([scenario, run]) => {
      try {
        const result = await run();
        console.log(JSON.stringify({ scenario, ...result }));
      } catch (e) {
        console.log(JSON.stringify({ scenario, error: String(e) }));
      }
    }),
);
