import { readFileSync } from 'node:fs';
import { type ConnectionOptions, connect, type TLSSocket } from 'node:tls';
import { parseArgs } from 'node:util';

/**
 * The load generator of `npm run bench:sessions` (bench/tunnel/idle-sessions.ts), run as its own
 * process so that its memory is not counted as the gateway's. It opens `--sessions` CSTP tunnels
 * to the gateway, at most `--concurrency` handshakes at a time, each one TLS 1.3 connection that
 * carries the whole dialogue:
 *
 *   POST / (Authorization: Bearer <jwt>, config-auth init) → 200 + Set-Cookie: webvpn=…
 *   CONNECT /CSCOSSLC/tunnel (Cookie: webvpn=…)          → HTTP/1.1 200 CONNECTED
 *
 * and then holds it open, idle, answering DPD requests. The gateway certificate is verified
 * against `--ca` (the built-in CA's ca.pem; the certificate carries the listen IP as a SAN).
 *
 * Protocol with the parent, one JSON object per line on stdout:
 *   {"event":"progress",…} now and then, {"event":"established",…} once the opening phase ends;
 * then each line read on stdin ("report") is answered with {"event":"report",…}. stdin closing,
 * SIGTERM or SIGINT end the process. Progress also goes to stderr.
 */
const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8443' },
    sessions: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '64' },
    ca: { type: 'string' },
    'token-file': { type: 'string' },
    /** Certificate login instead of a token: the client certificate (PEM chain) and its key. */
    cert: { type: 'string' },
    key: { type: 'string' },
    /**
     * Reconnect a held tunnel that drops, as openconnect does: a new TLS connection and CONNECT
     * with the same cookie, no new login (`bench:sessions -- --site`: failover to another node).
     */
    resume: { type: 'boolean', default: false },
    /**
     * Reconnects in progress at once in this process (--resume); the others wait their turn here.
     * Thousands of openconnect clients each finish their half of a handshake at once on their own
     * CPU; this one process doing all of them at once would finish each only after seconds, and
     * the gateway rightly closes a handshake whose client is that slow (its 10 s limit).
     */
    'resume-concurrency': { type: 'string', default: '256' },
    /**
     * Source addresses `--source-base` … base + n - 1, round robin: 64k ports per address at most.
     * Several client processes each take a base of their own (127.0.1.1, 127.0.2.1, …), so they
     * never compete for the same ports; loopback answers for all of 127/8.
     */
    'source-addresses': { type: 'string', default: '8' },
    'source-base': { type: 'string', default: '127.0.0.1' },
    /** The opening phase gives up after this many seconds. */
    'deadline-s': { type: 'string', default: '1200' },
    /** Each handshake (TLS + POST + CONNECT) must finish within this. */
    'handshake-timeout-s': { type: 'string', default: '60' },
  },
});

const target = positiveInt('sessions', values.sessions!);
const concurrency = positiveInt('concurrency', values.concurrency!);
const sources = positiveInt('source-addresses', values['source-addresses']!);
const deadlineMs = positiveInt('deadline-s', values['deadline-s']!) * 1000;
const handshakeTimeoutMs = positiveInt('handshake-timeout-s', values['handshake-timeout-s']!) * 1000;
const port = positiveInt('port', values.port!);
const host = values.host!;
const sourceBase = ipv4ToInt(values['source-base']!);
if (sourceBase + sources - 1 > 0xffff_ffff)
  fail('--source-base + --source-addresses runs past 255.255.255.255');
if (!values.ca || (!values['token-file'] && !(values.cert && values.key)))
  fail('--ca and --token-file (or --cert and --key) are required');
const ca = readFileSync(values.ca);
const token = values['token-file'] ? readFileSync(values['token-file'], 'utf8').trim() : undefined;
const clientCertificate: { cert?: Buffer; key?: Buffer } = values.cert
  ? { cert: readFileSync(values.cert), key: readFileSync(values.key!) }
  : {};
const resume = values.resume === true;
const resumeConcurrency = positiveInt('resume-concurrency', values['resume-concurrency']!);
/**
 * A dropped tunnel whose reconnect failed tries again as openconnect 9 does (ssl_reconnect): at once
 * the first time, then after 10 s, 20 s, 30 s … at most 100 s apart (RECONNECT_INTERVAL_MIN/MAX;
 * its --reconnect-timeout of 300 s is not imitated: this client keeps trying).
 */
const resumeRetryMs = (failedAttempts: number) => Math.min(100, 10 * failedAttempts) * 1000;
/** Failed attempts tolerated before the opening phase stops (each failure is retried once at most, in effect). */
const maxFailures = Math.max(100, Math.ceil(target / 10));

const initBody =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<config-auth client="vpn" type="init" aggregate-auth-version="2">' +
  '<version who="vpn">v9.01-3</version><device-id>linux-64</device-id>' +
  `<group-access>https://${host}:${port}/</group-access></config-auth>`;
const postRequest = Buffer.from(
  'POST / HTTP/1.1\r\n' +
    `Host: ${host}:${port}\r\n` +
    'User-Agent: Open AnyConnect VPN Agent v9.01-3\r\n' +
    'Accept: */*\r\n' +
    'X-Transcend-Version: 1\r\n' +
    'X-Aggregate-Auth: 1\r\n' +
    (token ? `Authorization: Bearer ${token}\r\n` : '') +
    'Content-Type: application/x-www-form-urlencoded\r\n' +
    `Content-Length: ${Buffer.byteLength(initBody)}\r\n` +
    '\r\n' +
    initBody,
);
const connectHead = (cookie: string) =>
  'CONNECT /CSCOSSLC/tunnel HTTP/1.1\r\n' +
  `Host: ${host}:${port}\r\n` +
  'User-Agent: Open AnyConnect VPN Agent v9.01-3\r\n' +
  `Cookie: webvpn=${cookie}\r\n` +
  'X-CSTP-Version: 1\r\n' +
  'X-CSTP-Base-MTU: 1500\r\n' +
  'X-CSTP-MTU: 1399\r\n' +
  'X-CSTP-Address-Type: IPv4\r\n' +
  '\r\n';

const maxHttpBytes = 64 * 1024;
enum Phase {
  tls = 0,
  auth = 1,
  connect = 2,
  held = 3,
  done = 4,
}

/** Per-connection state, kept on the socket itself so the listeners can be shared functions. */
interface Conn extends TLSSocket {
  phase: Phase;
  /** Bytes of an unfinished HTTP response or CSTP frame; null when nothing is pending. */
  partial: Buffer | null;
  /** The session's cookie, once the login gave it. */
  cookie?: string;
  /** A reconnect of a dropped tunnel (CONNECT with `cookie`, no login). */
  resuming?: boolean;
  /** Reconnect attempts of this tunnel that failed before this one (openconnect's back-off). */
  failedAttempts?: number;
  /** When the TCP connection was started (Date.now()): a failure's reason says how long it lasted. */
  startedAt: number;
}

const counts = {
  started: 0,
  established: 0,
  failed: 0,
  lost: 0,
  dpdAnswered: 0,
  terminated: 0,
  /** Dropped tunnels reconnected with their cookie (--resume), reconnect attempts that failed, cookies refused. */
  resumed: 0,
  resumeAttemptsFailed: 0,
  resumeRefused: 0,
};
const failures = new Map<string, number>();
const resumeFailures = new Map<string, number>();
const held = new Set<Conn>();
let inFlight = 0;
let opening = true;
const t0 = Date.now();
let establishedMs = 0;

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got ${text}`);
  return n;
}

/** A dotted-quad IPv4 address as an unsigned 32-bit number, so that offsets carry across octets. */
function ipv4ToInt(text: string): number {
  const octets = text.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255))
    fail(`--source-base must be an IPv4 address, got ${text}`);
  return octets.reduce((acc, o) => acc * 256 + o, 0);
}

function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

function fail(message: string): never {
  process.stderr.write(`cstp-idle-client: ${message}\n`);
  process.exit(2);
}

function emit(event: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(
    `${JSON.stringify({ event, ...counts, held: held.size, inFlight, elapsedMs: Date.now() - t0, ...extra })}\n`,
  );
}

function countFailure(reason: string): void {
  counts.failed++;
  const key = reason.slice(0, 80);
  if (failures.size < 50 || failures.has(key)) failures.set(key, (failures.get(key) ?? 0) + 1);
}

function openOne(): void {
  const index = counts.started++;
  inFlight++;
  tunnelSocket(index);
}

function tunnelSocket(index: number, cookie?: string): Conn {
  const socket = connect({
    host,
    port,
    ca,
    ...clientCertificate,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    // net.Socket#connect takes it; tls.connect passes it on, its typings just do not list it.
    localAddress: intToIpv4(sourceBase + (index % sources)),
  } as unknown as ConnectionOptions) as unknown as Conn;
  if (cookie) {
    socket.cookie = cookie;
    socket.resuming = true;
  }
  socket.phase = Phase.tls;
  socket.partial = null;
  socket.startedAt = Date.now();
  socket.setTimeout(handshakeTimeoutMs);
  socket.once('secureConnect', onSecureConnect);
  socket.on('data', onData);
  socket.on('timeout', onTimeout);
  socket.on('error', onError);
  socket.on('close', onClose);
  return socket;
}

function onSecureConnect(this: Conn): void {
  if (this.resuming) {
    this.phase = Phase.connect;
    this.write(connectHead(this.cookie!));
    return;
  }
  this.phase = Phase.auth;
  this.write(postRequest);
}

/** Reconnects a dropped tunnel with its cookie; a failed attempt tries again (not a refused cookie). */
let resumes = 0;
/** Reconnects waiting for one of the `--resume-concurrency` places, in order (`resumeNext` is the first). */
let resumeWaiting: Array<{ cookie: string; failedAttempts: number }> = [];
let resumeNext = 0;
let resumesInFlight = 0;
function resumeTunnel(cookie: string, failedAttempts = 0): void {
  resumeWaiting.push({ cookie, failedAttempts });
  pumpResumes();
}

function pumpResumes(): void {
  while (resumesInFlight < resumeConcurrency && resumeNext < resumeWaiting.length) {
    const { cookie, failedAttempts } = resumeWaiting[resumeNext++]!;
    resumesInFlight++;
    tunnelSocket(resumes++, cookie).failedAttempts = failedAttempts;
  }
  if (resumeNext === resumeWaiting.length) {
    resumeWaiting = [];
    resumeNext = 0;
  }
}

/** A reconnect ended (tunnel back, or the attempt failed): its place goes to the next. */
function resumeSettled(): void {
  resumesInFlight--;
  pumpResumes();
}

function onTimeout(this: Conn): void {
  this.destroy(new Error(`handshake timeout in phase ${this.phase}`));
}

function onError(this: Conn, err: Error): void {
  if (this.phase !== Phase.held) setupFailed(this, err.message);
}

function onClose(this: Conn): void {
  if (this.phase === Phase.held) {
    held.delete(this);
    counts.lost++;
    this.phase = Phase.done;
    if (resume && this.cookie) resumeTunnel(this.cookie);
  } else if (this.phase !== Phase.done)
    setupFailed(this, `closed during setup (${Phase[this.phase]}, ${lasted(this.startedAt)})`);
}

/** How long a failed attempt lasted, in coarse buckets (a server's 10 s handshake limit shows). */
function lasted(startedAt: number): string {
  const s = (Date.now() - startedAt) / 1000;
  if (s < 1) return '<1 s';
  if (s < 9.5) return '1-9.5 s';
  if (s < 11) return '9.5-11 s';
  return '>11 s';
}

/** Ends a connection that has not reached the held state, and starts another if there is room. */
function setupFailed(socket: Conn, reason: string): void {
  if (socket.phase === Phase.done) return;
  socket.phase = Phase.done;
  socket.partial = null;
  socket.destroy();
  if (socket.resuming) {
    resumeSettled();
    const key = reason.slice(0, 60);
    if (resumeFailures.size < 20 || resumeFailures.has(key))
      resumeFailures.set(key, (resumeFailures.get(key) ?? 0) + 1);
    if (reason.startsWith('CONNECT: HTTP/1.1 401')) counts.resumeRefused++;
    else {
      counts.resumeAttemptsFailed++;
      const cookie = socket.cookie!;
      const failed = (socket.failedAttempts ?? 0) + 1;
      setTimeout(() => resumeTunnel(cookie, failed), resumeRetryMs(failed));
    }
    return;
  }
  countFailure(reason);
  inFlight--;
  pump();
}

function onData(this: Conn, chunk: Buffer): void {
  const data = this.partial ? Buffer.concat([this.partial, chunk]) : chunk;
  this.partial = null;
  if (this.phase === Phase.held) return frames(this, data);
  if (this.phase !== Phase.auth && this.phase !== Phase.connect) return;
  if (data.length > maxHttpBytes) return setupFailed(this, 'HTTP response too large');
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) {
    this.partial = data;
    return;
  }
  const head = data.subarray(0, end).toString('latin1');
  const rest = data.subarray(end + 4);
  const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
  if (this.phase === Phase.auth) {
    const length = bodyLength(head, rest);
    if (length === undefined) {
      this.partial = data;
      return;
    }
    if (length < 0) return setupFailed(this, 'auth reply body is neither Content-Length nor chunked');
    const cookie = /\r\nset-cookie:\s*webvpn=([^;\r\n]+)/i.exec(head)?.[1];
    if (status !== '200' || !cookie) {
      const body = rest.subarray(0, length).toString('utf8');
      const why = /<error[^>]*>([^<]*)</.exec(body)?.[1] ?? head.split('\r\n')[0];
      return setupFailed(this, `auth: ${why}`);
    }
    this.phase = Phase.connect;
    this.cookie = cookie;
    this.write(connectHead(cookie));
    if (rest.length > length) this.partial = rest.subarray(length);
    return;
  }
  // Phase.connect
  if (!head.startsWith('HTTP/1.1 200 CONNECTED'))
    return setupFailed(this, `CONNECT: ${head.split('\r\n')[0]}`);
  this.phase = Phase.held;
  this.setTimeout(0);
  held.add(this);
  if (this.resuming) {
    this.resuming = false;
    counts.resumed++;
    resumeSettled();
    if (rest.length > 0) frames(this, rest);
    return;
  }
  inFlight--;
  counts.established++;
  if (rest.length > 0) frames(this, rest);
  pump();
}

/**
 * Bytes the auth reply's body takes after the head (Node sends `writeHead().end(body)` chunked);
 * undefined while incomplete, -1 when unparseable. The body itself is only looked at on failure.
 */
function bodyLength(head: string, rest: Buffer): number | undefined {
  const fixed = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
  if (fixed !== undefined) return rest.length >= Number(fixed) ? Number(fixed) : undefined;
  if (!/\r\ntransfer-encoding:\s*chunked/i.test(head)) return -1;
  let pos = 0;
  for (let chunks = 0; chunks < 1000; chunks++) {
    const eol = rest.indexOf('\r\n', pos);
    if (eol < 0) return undefined;
    const size = Number.parseInt(rest.subarray(pos, eol).toString('latin1'), 16);
    if (!Number.isInteger(size) || size < 0) return -1;
    pos = eol + 2 + size + 2; // data and its CRLF; the last chunk (0) has no trailers here
    if (pos > rest.length) return undefined;
    if (size === 0) return pos;
  }
  return -1;
}

/** Held tunnels: answer DPD requests, note a server's DISCONNECT (or TERMINATE), ignore everything else. */
function frames(socket: Conn, data: Buffer): void {
  let offset = 0;
  while (data.length - offset >= 8) {
    if (
      data[offset] !== 0x53 ||
      data[offset + 1] !== 0x54 ||
      data[offset + 2] !== 0x46 ||
      data[offset + 3] !== 1
    ) {
      socket.destroy();
      return;
    }
    const length = data.readUInt16BE(offset + 4);
    if (data.length - offset < 8 + length) break;
    const type = data[offset + 6];
    if (type === 0x03) {
      const reply = Buffer.from(data.subarray(offset, offset + 8 + length));
      reply[6] = 0x04;
      socket.write(reply);
      counts.dpdAnswered++;
    } else if (type === 0x05 || type === 0x09) counts.terminated++;
    offset += 8 + length;
  }
  if (offset < data.length) socket.partial = Buffer.from(data.subarray(offset));
}

let lastProgress = 0;
function pump(): void {
  if (!opening) return;
  const now = Date.now();
  const over = counts.established >= target || counts.failed >= maxFailures || now - t0 > deadlineMs;
  if (over) {
    if (inFlight === 0) finishOpening();
    return;
  }
  while (inFlight < concurrency && counts.established + inFlight < target) openOne();
  if (now - lastProgress >= 2000) {
    lastProgress = now;
    process.stderr.write(
      `cstp-idle-client: ${counts.established}/${target} established, ${counts.failed} failed, ${inFlight} in flight, ${((now - t0) / 1000).toFixed(1)} s\n`,
    );
    emit('progress');
  }
}

function finishOpening(): void {
  if (!opening) return;
  opening = false;
  establishedMs = Date.now() - t0;
  process.stderr.write(
    `cstp-idle-client: opening done: ${counts.established} established, ${counts.failed} failed in ${(establishedMs / 1000).toFixed(1)} s\n`,
  );
  emit('established', { establishedMs, failures: Object.fromEntries(failures) });
}

// Bounded: past the deadline, connections still in flight are abandoned so the phase ends.
const watchdog = setInterval(() => {
  if (!opening) return clearInterval(watchdog);
  if (Date.now() - t0 > deadlineMs + handshakeTimeoutMs) {
    process.stderr.write('cstp-idle-client: deadline passed with handshakes in flight\n');
    inFlight = 0;
    finishOpening();
  } else pump();
}, 1000);

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d: string) => {
  input += d;
  for (let nl = input.indexOf('\n'); nl >= 0; nl = input.indexOf('\n')) {
    const line = input.slice(0, nl).trim();
    input = input.slice(nl + 1);
    if (line === 'report')
      emit('report', { establishedMs, resumeFailures: Object.fromEntries(resumeFailures) });
  }
  if (input.length > 4096) input = '';
});
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

pump();
