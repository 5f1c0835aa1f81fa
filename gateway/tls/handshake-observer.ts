import { type CipherSuite, cipherSuite, type TlsVersion } from './cipher-suites.js';
import { clientCertificateChain } from './client-certificate-message.js';
import type { Evp } from './evp.js';
import { type TrafficKeys, tls12TrafficKeys, tls13TrafficKeys } from './key-schedule.js';
import { type KeylogEntry, parseKeylogLine } from './keylog.js';
import { ContentType, RECORD_HEADER_LENGTH } from './record.js';
import { HandshakeScanner, HandshakeType, parseServerHello, type ServerHello } from './server-hello.js';

/** One direction's keys at the takeover; `secret` is the TLS 1.3 traffic secret (for KeyUpdate). */
export interface DirectionKeys {
  readonly keys: TrafficKeys;
  readonly secret?: Buffer;
}

export interface SessionKeys {
  readonly suite: CipherSuite;
  readonly client: DirectionKeys;
  readonly server: DirectionKeys;
}

/** Why a connection cannot leave OpenSSL, for the log. */
export type Unsupported = { readonly unsupported: string };

/** Per direction: protected records seen and the last one (a copy, for finding its sequence number). */
class DirectionLog {
  protectedRecords = 0;
  changedCipher = false;
  last: Buffer | undefined;

  see(buffer: Buffer, start: number, end: number): boolean {
    const type = buffer[start];
    if (type === ContentType.changeCipherSpec) {
      // TLS 1.2: the next record is the first under the new keys, with sequence number 0. (In
      // TLS 1.3 the CCS is a compatibility no-op; its protected records all have type 23.)
      this.changedCipher = true;
      this.protectedRecords = 0;
      return false;
    }
    if (type !== ContentType.applicationData && !this.changedCipher) return false;
    this.protectedRecords++;
    this.last = Buffer.from(buffer.subarray(start, end));
    return true;
  }
}

/**
 * The key log labels sessionKeys() reads, and the client handshake secret that
 * clientCertificates() reads, each followed by a space in its line.
 */
const neededKeylogLabels = [
  'CLIENT_RANDOM ',
  'CLIENT_TRAFFIC_SECRET_0 ',
  'SERVER_TRAFFIC_SECRET_0 ',
  'CLIENT_HANDSHAKE_TRAFFIC_SECRET ',
];

/**
 * TLS 1.3 client records kept for clientCertificates(): its Certificate, CertificateVerify and
 * Finished take one record from OpenSSL, GnuTLS and Node clients; a chain past 8 full records
 * is read from OpenSSL instead.
 */
const maxHandshakeRecords = 8;

function startsWith(line: Buffer | string, prefix: string): boolean {
  if (typeof line === 'string') return line.startsWith(prefix);
  if (line.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (line[i] !== prefix.charCodeAt(i)) return false;
  return true;
}

/** Largest ServerHello body accepted (extensions included). */
const maxServerHello = 4096;

/**
 * Watches the records of a connection that OpenSSL runs (the handshake and the HTTP auth
 * dialogue) so that the session can be moved to Outpost's record layer later: the ServerHello
 * (version, cipher suite, server random), the key log lines, and per direction the count of
 * protected records and the last one. Pure: records and log lines in, keys out.
 *
 * Sequence numbers are not trusted from the counts alone: in TLS 1.3 the first protected records
 * are under handshake keys, and a KeyUpdate or renegotiation would change keys unseen. The
 * takeover instead finds the sequence number under which the last record authenticates (see
 * record-layer.ts), and stays with OpenSSL when none does.
 */
export class HandshakeObserver {
  readonly client = new DirectionLog();
  readonly server = new DirectionLog();
  private serverHello: ServerHello | undefined;
  private readonly scanner = new HandshakeScanner(new Set([HandshakeType.serverHello]), maxServerHello);
  private readonly secrets = new Map<string, KeylogEntry>();
  private failure: string | undefined;
  /** The client's first protected TLS 1.3 records (its handshake flight comes first), until read. */
  private clientHandshakeRecords: Buffer[] | undefined = [];

  /** A record OpenSSL wrote towards the client. */
  serverRecord(buffer: Buffer, start: number, end: number): void {
    if (this.server.see(buffer, start, end)) return;
    if (buffer[start] !== ContentType.handshake || this.failure) return;
    try {
      this.scanner.push(buffer.subarray(start + RECORD_HEADER_LENGTH, end), (_type, body) => {
        const hello = parseServerHello(body);
        // A HelloRetryRequest is followed by the real ServerHello; keep the latest.
        if (!hello.helloRetryRequest) this.serverHello = hello;
      });
    } catch (e) {
      this.failure = (e as Error).message;
    }
  }

  /** A record the client sent (and OpenSSL was given). */
  clientRecord(buffer: Buffer, start: number, end: number): void {
    if (!this.client.see(buffer, start, end)) return;
    const kept = this.clientHandshakeRecords;
    if (
      kept &&
      kept.length < maxHandshakeRecords &&
      buffer[start] === ContentType.applicationData &&
      this.serverHello?.version === 0x0304
    ) {
      kept.push(this.client.last!); // see() made it a copy of its own
    }
  }

  /** Drops what clientCertificates() would read (the connection is past its login). */
  forgetClientRecords(): void {
    this.clientHandshakeRecords = undefined;
    this.secrets.delete('CLIENT_HANDSHAKE_TRAFFIC_SECRET');
  }

  /**
   * The certificates the client presented in its TLS 1.3 handshake (DER, leaf first), read once
   * from its records (client-certificate-message.ts); undefined for TLS 1.2, a resumed session,
   * or whenever they cannot be read, and on any later call. The kept records are dropped.
   */
  clientCertificates(evp: Evp): Buffer[] | undefined {
    const records = this.clientHandshakeRecords;
    const hello = this.serverHello;
    const secret = this.secrets.get('CLIENT_HANDSHAKE_TRAFFIC_SECRET');
    this.forgetClientRecords();
    if (!records || records.length === 0 || !hello || !secret || this.failure) return undefined;
    const suite = cipherSuite(hello.cipherSuite, 'TLSv1.3');
    if (hello.version !== 0x0304 || !suite) return undefined;
    return clientCertificateChain(evp, suite, secret.secret, records);
  }

  /**
   * A line from the TLSSocket's `keylog` event. Only the lines sessionKeys() reads are parsed: a
   * TLS 1.3 handshake logs five (handshake and exporter secrets too), on every connection.
   */
  keylog(line: Buffer | string): void {
    if (!neededKeylogLabels.some((label) => startsWith(line, label))) return;
    const entry = parseKeylogLine(line);
    if (entry) this.secrets.set(entry.label, entry);
  }

  /** The record protection keys of both directions, or why there are none. */
  sessionKeys(): SessionKeys | Unsupported {
    if (this.failure) return { unsupported: this.failure };
    const hello = this.serverHello;
    if (!hello) return { unsupported: 'no ServerHello seen' };
    const version: TlsVersion | undefined =
      hello.version === 0x0303 ? 'TLSv1.2' : hello.version === 0x0304 ? 'TLSv1.3' : undefined;
    if (!version) return { unsupported: `TLS version 0x${hello.version.toString(16)}` };
    const suite = cipherSuite(hello.cipherSuite, version);
    if (!suite) return { unsupported: `cipher suite 0x${hello.cipherSuite.toString(16)} (${version})` };
    if (version === 'TLSv1.2') {
      const master = this.secrets.get('CLIENT_RANDOM');
      if (!master) return { unsupported: 'no master secret logged' };
      const keys = tls12TrafficKeys(suite, master.secret, master.clientRandom, hello.random);
      return { suite, client: { keys: keys.client }, server: { keys: keys.server } };
    }
    const client = this.secrets.get('CLIENT_TRAFFIC_SECRET_0');
    const server = this.secrets.get('SERVER_TRAFFIC_SECRET_0');
    if (!client || !server) return { unsupported: 'no traffic secrets logged' };
    return {
      suite,
      client: { keys: tls13TrafficKeys(suite, client.secret), secret: client.secret },
      server: { keys: tls13TrafficKeys(suite, server.secret), secret: server.secret },
    };
  }
}

export function isUnsupported(value: SessionKeys | Unsupported): value is Unsupported {
  return 'unsupported' in value;
}
