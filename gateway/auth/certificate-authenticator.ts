import { X509Certificate } from 'node:crypto';
import { Oid } from '../../certs/oids.js';
import { type ParsedCertificate, parseCertificate } from '../../certs/parsed-certificate.js';
import { pemBlocks } from '../../certs/pem.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { type AuthResult, authFailure } from './auth-result.js';
import {
  type CertificateUsernameSource,
  certificateUsername,
  subjectValues,
} from './certificate-username.js';
import type { RevocationCheck } from './revocation-check.js';

export interface CertificateAuthenticatorOptions {
  /** PEM bundle of the CAs whose client certificates are accepted (the built-in CA, or a file). */
  trustAnchorsPem: string;
  usernameFrom: CertificateUsernameSource;
  /** Group names from the subject's OU values (ocserv's cert-group-oid 2.5.4.11), or none. */
  groupsFrom?: 'ou' | 'none';
  revocation?: RevocationCheck;
  /** Accept a leaf whose revocation status is unknown (foreign CA without a revocation source). */
  acceptUnknownStatus?: boolean;
  /** Intermediates allowed between the leaf and an anchor. */
  maxIntermediates?: number;
  clock?: () => Date;
}

interface Link {
  /** Made on first read (OpenSSL 3.0 parses the key through its decoders, ~0.3 ms): see link(). */
  readonly x509: X509Certificate;
  parsed: ParsedCertificate;
}

/**
 * Client certificate chain (as the TLS peer presented it, leaf first, DER) checked against a CA
 * bundle with node:crypto: issuer/subject and key identifiers (checkIssued), signature (verify),
 * validity at the clock's time, CA flags, the leaf's key usages, then revocation by serial.
 */
export class CertificateAuthenticator {
  private readonly anchors: Link[];
  private readonly options: CertificateAuthenticatorOptions;
  /** CA lists (by identity) already compared equal to the anchors: the gateway hands the same one each login. */
  private readonly knownSameAnchors = new WeakSet<readonly Uint8Array[]>();

  constructor(options: CertificateAuthenticatorOptions) {
    this.options = options;
    this.anchors = pemBlocks(options.trustAnchorsPem)
      .filter((b) => b.label === 'CERTIFICATE')
      .map((b) => link(b.der));
    if (this.anchors.length === 0) {
      throw new OutpostError(ErrorCodes.config, 'client certificate CA bundle holds no certificate');
    }
    if (this.anchors.some((a) => !a.x509.ca)) {
      throw new OutpostError(ErrorCodes.config, 'client certificate CA bundle holds a non-CA certificate');
    }
  }

  /**
   * `parsed`: the same chain as X509Certificate objects already made (the TLS socket's), if any.
   * `tlsVerifiedAgainst`: the CA certificates (DER) OpenSSL verified this chain against in the
   * TLS handshake, if it did; see tlsVerifiedIssuer.
   */
  async authenticate(
    chainDer: Uint8Array[],
    parsed?: readonly X509Certificate[],
    tlsVerifiedAgainst?: readonly Uint8Array[],
  ): Promise<AuthResult> {
    const maxIntermediates = this.options.maxIntermediates ?? 3;
    if (chainDer.length === 0) throw authFailure('certificate', 'no client certificate');
    if (chainDer.length > maxIntermediates + 2) throw authFailure('certificate', 'client chain too long');
    let chain: Link[];
    // Clients commonly send their CA after the leaf (OpenSSL's and Node's automatic client chain,
    // openconnect): a certificate equal to an anchor byte for byte is that anchor, not parsed again.
    let onlyAnchorsBeside = true;
    try {
      chain = chainDer.map((der, i) => {
        const anchor = i > 0 ? this.anchors.find((a) => a.x509.raw.equals(der)) : undefined;
        if (i > 0 && !anchor) onlyAnchorsBeside = false;
        return anchor ?? link(der, parsed?.length === chainDer.length ? parsed[i] : undefined);
      });
    } catch (e) {
      throw authFailure('certificate', 'malformed client certificate', e);
    }
    const now = (this.options.clock ?? (() => new Date()))();
    const leaf = chain[0]!;
    const name = leaf.parsed.subject.text;
    const verifiedLeaf = onlyAnchorsBeside && this.sameAnchors(tlsVerifiedAgainst);
    const issuer = this.pathToAnchor(leaf, chain.slice(1), now, maxIntermediates, verifiedLeaf);
    checkLeafUsage(leaf);
    await this.checkRevocation(leaf, issuer);
    const username = certificateUsername(leaf.parsed, this.options.usernameFrom);
    if (!username)
      throw authFailure('certificate', `${name} has no ${this.options.usernameFrom} to use as username`);
    const groups =
      this.options.groupsFrom === 'ou' ? subjectValues(leaf.parsed, Oid.organizationalUnitName) : [];
    return { username, groups, method: 'certificate' };
  }

  /**
   * Walks from the leaf up through presented intermediates to a trust anchor (RFC 5280 §6.1,
   * reduced: no policies or name constraints). Returns the leaf's issuer.
   */
  private pathToAnchor(
    leaf: Link,
    presented: Link[],
    now: Date,
    maxIntermediates: number,
    verifiedLeaf: boolean,
  ): X509Certificate {
    // X509Certificate.ca is X509_check_ca() === 1; for a leaf OpenSSL verified (its extensions
    // valid), that is what caByExtensions reads, without making the leaf's X509Certificate.
    const leafIsCa = verifiedLeaf ? caByExtensions(leaf.parsed) : leaf.x509.ca;
    if (leafIsCa) throw authFailure('certificate', `${leaf.parsed.subject.text} is a CA certificate`);
    let current = leaf;
    let leafIssuer: X509Certificate | undefined;
    const unused = [...presented];
    for (let depth = 0; depth <= maxIntermediates; depth++) {
      checkValidity(current, now);
      const anchor =
        (depth === 0 && verifiedLeaf ? this.tlsVerifiedIssuer(leaf) : undefined) ??
        this.anchors.find((a) => issued(a, current));
      if (anchor) {
        checkValidity(anchor, now);
        if (anchor.parsed.pathLen !== undefined && anchor.parsed.pathLen < depth) {
          throw authFailure(
            'certificate',
            `path length constraint of ${anchor.parsed.subject.text} exceeded`,
          );
        }
        return leafIssuer ?? anchor.x509;
      }
      const index = unused.findIndex((c) => c.x509.ca && issued(c, current));
      if (index < 0 || depth === maxIntermediates) {
        throw authFailure('certificate', `no trusted issuer for ${current.parsed.subject.text}`);
      }
      const next = unused.splice(index, 1)[0]!;
      if (next.parsed.pathLen !== undefined && next.parsed.pathLen < depth) {
        throw authFailure('certificate', `path length constraint of ${next.parsed.subject.text} exceeded`);
      }
      leafIssuer ??= next.x509;
      current = next;
    }
    throw authFailure('certificate', 'client chain too long');
  }

  /**
   * The one anchor that names itself the leaf's issuer, when OpenSSL has already verified the
   * leaf's signature with it: the leaf was presented alone or with nothing but copies of anchors
   * (byte for byte), the handshake verified it (the socket is `authorized`) against exactly our
   * anchors (the context's store holds only the `ca` certificates, the same bundle as ours), so
   * every certificate OpenSSL could build a path with is an anchor, its path was leaf → one of
   * them, found with the same X509_check_issued that checkIssued calls, and the signature checked
   * (with validity and purpose, which are checked here again, cheaply). When two anchors name
   * themselves the issuer, which one OpenSSL used is unknown, and the signature is verified here
   * as before. This saves one ECDSA/RSA verify per login (~70 us of ~4 ms, bench:sessions --site).
   * With a single anchor, that anchor is the one (no other certificate was there to build a path
   * with), and the leaf's X509Certificate is not made at all.
   */
  private tlsVerifiedIssuer(leaf: Link): Link | undefined {
    // One anchor: the path OpenSSL verified, leaf and copies of that anchor only, was leaf → it.
    if (this.anchors.length === 1) return this.anchors[0];
    const named = this.anchors.filter((a) => leaf.x509.checkIssued(a.x509));
    return named.length === 1 ? named[0] : undefined;
  }

  /** Whether `ders` are exactly our anchors (same certificates, same order). */
  private sameAnchors(ders: readonly Uint8Array[] | undefined): boolean {
    if (!ders) return false;
    if (this.knownSameAnchors.has(ders)) return true;
    const same =
      ders.length === this.anchors.length && this.anchors.every((a, i) => a.x509.raw.equals(ders[i]!));
    if (same) this.knownSameAnchors.add(ders);
    return same;
  }

  private async checkRevocation(leaf: Link, issuer: X509Certificate): Promise<void> {
    const check = this.options.revocation;
    if (!check) return;
    let status: Awaited<ReturnType<RevocationCheck['status']>>;
    try {
      status = await check.status(leaf.parsed.serialHex, issuer);
    } catch (e) {
      // Fail closed, but as "try later": the inventory being unreadable is not the client's fault.
      throw new OutpostError(ErrorCodes.unavailable, 'revocation status unavailable, try again later', {
        cause: e,
        detail: `serial ${leaf.parsed.serialHex}`,
      });
    }
    if (status === 'revoked') throw authFailure('certificate', `serial ${leaf.parsed.serialHex} is revoked`);
    if (status === 'unknown' && !this.options.acceptUnknownStatus) {
      throw authFailure('certificate', `serial ${leaf.parsed.serialHex} has no known revocation status`);
    }
  }
}

function link(der: Uint8Array, x509?: X509Certificate): Link {
  const buffer = Buffer.from(der);
  // The key is X509Certificate's (issued() verifies with x509.publicKey): a device's key, new at
  // each login, is not imported a second time (~0.3 ms, parsed-certificate.ts). The
  // X509Certificate itself is made when first read: a leaf OpenSSL verified against our single
  // anchor never needs it.
  const parsed = parseCertificate(buffer, { publicKey: 'lazy' });
  let made = x509;
  return {
    get x509(): X509Certificate {
      made ??= new X509Certificate(buffer);
      return made;
    },
    parsed,
  };
}

/**
 * X509_check_ca(cert) === 1 (OpenSSL 3.0 check_ca) for a certificate whose extensions OpenSSL
 * accepted: basicConstraints present with cA true, and a keyUsage, when present, allowing
 * keyCertSign.
 */
function caByExtensions(cert: ParsedCertificate): boolean {
  const hasBasicConstraints = cert.extensions.some((e) => e.oid === Oid.basicConstraints);
  const hasKeyUsage = cert.extensions.some((e) => e.oid === Oid.keyUsage);
  if (hasKeyUsage && !cert.keyUsage.includes('keyCertSign')) return false;
  return hasBasicConstraints && cert.isCa;
}

/** Names and key identifiers chain (checkIssued) and the signature verifies with the issuer's key. */
function issued(issuer: Link, subject: Link): boolean {
  // Node: `a.checkIssued(b)` asks whether a was issued by b.
  return subject.x509.checkIssued(issuer.x509) && subject.x509.verify(issuer.x509.publicKey);
}

function checkValidity(c: Link, now: Date): void {
  if (now < c.parsed.notBefore || now > c.parsed.notAfter) {
    throw authFailure('certificate', `${c.parsed.subject.text} is not valid at ${now.toISOString()}`);
  }
}

/**
 * RFC 5280 §4.2.1.3 / §4.2.1.12: when present, key usage must allow signing (TLS client auth
 * signs CertificateVerify) and extended key usage must allow clientAuth.
 */
function checkLeafUsage(leaf: Link): void {
  const { keyUsage, eku, subject } = leaf.parsed;
  if (keyUsage.length > 0 && !keyUsage.includes('digitalSignature')) {
    throw authFailure('certificate', `${subject.text} key usage lacks digitalSignature`);
  }
  if (eku.length > 0 && !eku.includes('clientAuth') && !eku.includes('anyExtendedKeyUsage')) {
    throw authFailure('certificate', `${subject.text} extended key usage lacks clientAuth`);
  }
}
