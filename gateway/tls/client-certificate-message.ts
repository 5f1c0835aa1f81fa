import type { CipherSuite } from './cipher-suites.js';
import type { Evp } from './evp.js';
import { tls13TrafficKeys } from './key-schedule.js';
import { ContentType } from './record.js';
import { createOpener } from './record-protection.js';
import { HandshakeScanner } from './server-hello.js';

/** TLS handshake message type of Certificate (RFC 8446 §4). */
const certificateMessage = 11;
/** Longest Certificate message read: past this the caller asks OpenSSL instead. */
const maxCertificateMessage = 256 * 1024;

/**
 * The certificates (DER, in the order sent: leaf first) of the TLS 1.3 Certificate message the
 * client sent, read from its handshake records as they went to OpenSSL, decrypted with the client
 * handshake traffic secret OpenSSL logged. The AEAD authenticates each record, so these are the
 * very bytes OpenSSL parsed and verified. Undefined when anything does not fit (a record that
 * does not open, no Certificate message among `records`, a malformed message): the caller then
 * asks OpenSSL (TLSSocket.getPeerX509Certificate), which copies and parses every certificate
 * after the leaf again (OpenSSL 3.0's key decoders, ~0.3 ms each here).
 */
export function clientCertificateChain(
  evp: Evp,
  suite: CipherSuite,
  handshakeSecret: Buffer,
  records: readonly Buffer[],
): Buffer[] | undefined {
  if (suite.version !== 'TLSv1.3') return undefined;
  const opener = createOpener(evp, suite, tls13TrafficKeys(suite, handshakeSecret));
  const scanner = new HandshakeScanner(new Set([certificateMessage]), maxCertificateMessage);
  let body: Buffer | undefined;
  try {
    for (const sent of records) {
      // Opened in place: a copy, the observer's record stays as it was.
      const record = Buffer.from(sent);
      if (!opener.open(record, evp.address(record), 0, record.length)) return undefined;
      if (opener.type !== ContentType.handshake) return undefined;
      scanner.push(record.subarray(opener.plainStart, opener.plainEnd), (_type, message) => {
        body ??= message;
      });
      if (body) return certificateList(body);
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    opener.dispose();
  }
}

/**
 * RFC 8446 §4.4.2: certificate_request_context<0..2^8-1>, then certificate_list<0..2^24-1> of
 * CertificateEntry { cert_data<1..2^24-1>; extensions<0..2^16-1> } (X.509 certificates: no raw
 * public keys are negotiated). Undefined when the message is malformed.
 */
export function certificateList(body: Buffer): Buffer[] | undefined {
  if (body.length < 1) return undefined;
  let at = 1 + body[0]!;
  if (at + 3 > body.length) return undefined;
  const end = at + 3 + body.readUIntBE(at, 3);
  if (end !== body.length) return undefined;
  at += 3;
  const certificates: Buffer[] = [];
  while (at < end) {
    if (at + 3 > end) return undefined;
    const length = body.readUIntBE(at, 3);
    at += 3;
    if (length === 0 || at + length + 2 > end) return undefined;
    certificates.push(body.subarray(at, at + length));
    at += length;
    at += 2 + body.readUInt16BE(at);
    if (at > end) return undefined;
  }
  return certificates;
}
