import {
  buildCertificate,
  isSignedBy,
  type ParsedCertificate,
  randomSerial,
} from '../../../certs/certificate.js';
import { derNull } from '../../../certs/der-writer.js';
import { spkiDer } from '../../../certs/keys.js';
import { formatRfc4514 } from '../../../certs/name.js';
import { Oid } from '../../../certs/oids.js';
import type { HashName, Signer } from '../../../certs/signer.js';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import type { OcspSigningIdentity, OcspSigningSource } from '../../revocation/ocsp-signing.js';
import type { KeyStore } from '../keys/key-store.js';
import { type KeyedCertificate, keyed } from './material.js';

export interface OcspSignerOptions {
  /** The CA's key store: the responder's key and certificate live beside the CA's (role `ocsp`). */
  store: KeyStore;
  ca: { cert: ParsedCertificate; signer: Signer };
  hash: HashName;
  /** Lifetime of each signing certificate; renewed when a third of it remains. */
  lifetimeMs?: number;
  clock?: () => Date;
  /** Told when renewal failed but the current certificate is still valid (so answers go on). */
  onRenewalError?: (error: unknown) => void;
}

const DEFAULT_LIFETIME_MS = 30 * 24 * 3600 * 1000;
/** Responders and clients disagree on the time by a little: the certificate is valid from an hour ago. */
const BACKDATE_MS = 3600 * 1000;
const SUFFIX = ' OCSP Signer';

/**
 * The delegated OCSP responder certificate (RFC 6960 §4.2.2.2): issued by the CA to its own key,
 * with EKU id-kp-OCSPSigning and id-pkix-ocsp-nocheck (§4.2.2.2.1, so clients do not ask about
 * the responder itself), short-lived because nocheck makes it unrevocable. The CA key signs it
 * once a lifetime instead of signing every response.
 *
 * Made on first start; renewed lazily, on the first request after two thirds of its lifetime.
 * Several processes (SCEP workers, CLI verbs, other nodes on one token) share the key store: a process first adopts a
 * newer certificate another one wrote, and only makes its own when there is none; if two renew at
 * once, each answers with its own (both are valid) and the last one written is what the next
 * start loads.
 */
export class OcspSignerKeeper implements OcspSigningSource {
  private renewing: Promise<KeyedCertificate> | undefined;

  private constructor(
    private readonly o: Required<Omit<OcspSignerOptions, 'onRenewalError'>> &
      Pick<OcspSignerOptions, 'onRenewalError'>,
    private signer: KeyedCertificate,
  ) {}

  /** Loads the certificate from the key store, or makes one when absent, unusable or due. */
  static async open(options: OcspSignerOptions): Promise<OcspSignerKeeper> {
    const o = { lifetimeMs: DEFAULT_LIFETIME_MS, clock: () => new Date(), ...options };
    const now = o.clock();
    const signer = (await loadUsable(o, now)) ?? (await createAndSave(o, now));
    return new OcspSignerKeeper(o, signer);
  }

  get certificate(): ParsedCertificate {
    return this.signer.cert;
  }

  async current(now: Date): Promise<OcspSigningIdentity> {
    if (isDue(this.signer.cert, this.o.ca.cert, now)) {
      this.renewing ??= this.renew(now).finally(() => {
        this.renewing = undefined;
      });
      try {
        this.signer = await this.renewing;
      } catch (e) {
        if (now.getTime() >= this.signer.cert.notAfter.getTime())
          throw new OutpostError(ErrorCodes.unavailable, 'OCSP signing certificate expired', { cause: e });
        this.o.onRenewalError?.(e);
      }
    }
    const { cert, signer } = this.signer;
    return { certDer: cert.der, spkiDer: cert.spkiDer, signer };
  }

  private async renew(now: Date): Promise<KeyedCertificate> {
    return (await loadUsable(this.o, now)) ?? (await createAndSave(this.o, now));
  }
}

/** Renew once two thirds of the lifetime are gone, unless the CA itself ends first. */
function isDue(cert: ParsedCertificate, ca: ParsedCertificate, now: Date): boolean {
  const from = cert.notBefore.getTime();
  const renewAt = from + ((cert.notAfter.getTime() - from) * 2) / 3;
  return now.getTime() >= renewAt && cert.notAfter.getTime() < ca.notAfter.getTime();
}

/**
 * The stored pair when it is complete, matches, was issued by this CA for OCSP signing and is
 * not due; undefined otherwise (a replaced CA, a half-written pair, an expired certificate).
 */
async function loadUsable(o: OcspSignerOptions, now: Date): Promise<KeyedCertificate | undefined> {
  let loaded: KeyedCertificate;
  try {
    const stored = await o.store.load('ocsp');
    if (!stored) return undefined;
    loaded = keyed(stored.certDer, stored.key);
  } catch {
    return undefined;
  }
  const c = loaded.cert;
  const ours =
    c.issuer.der.equals(o.ca.cert.subject.der) &&
    isSignedBy(c, o.ca.cert.publicKey) &&
    c.eku.includes('ocspSigning') &&
    now.getTime() >= c.notBefore.getTime() &&
    !isDue(c, o.ca.cert, now);
  return ours ? loaded : undefined;
}

async function createAndSave(o: Required<Omit<OcspSignerOptions, 'onRenewalError'>>, now: Date) {
  // Same key family as the CA, so that any client that can check the CA can check responses.
  const key = await o.store.generate('ocsp', o.ca.signer.keyType === 'ec' ? 'ec-p256' : 'rsa-2048');
  const notBefore = new Date(Math.floor((now.getTime() - BACKDATE_MS) / 1000) * 1000);
  const notAfter = new Date(Math.min(now.getTime() + o.lifetimeMs, o.ca.cert.notAfter.getTime()));
  const der = buildCertificate(
    {
      subject: signerSubject(o.ca.cert),
      spkiDer: spkiDer(key.signer.publicKey),
      issuer: o.ca.cert,
      serial: randomSerial(),
      notBefore,
      notAfter: new Date(Math.floor(notAfter.getTime() / 1000) * 1000),
      isCa: false,
      keyUsage: ['digitalSignature'],
      eku: ['ocspSigning'],
      extraExtensions: [{ oid: Oid.ocspNoCheck, critical: false, value: derNull }],
    },
    o.ca.signer,
    o.hash,
  );
  const signer = keyed(der, key);
  // Other processes may still sign with the previous key until they adopt this one.
  await o.store.save('ocsp', key, der, { retire: 'expired', now });
  return signer;
}

/** The CA subject with "<CA CN> OCSP Signer" as CN (one is added when the CA has none). */
function signerSubject(ca: ParsedCertificate): string {
  let hasCn = false;
  const rdns = ca.subject.rdns.map((rdn) =>
    rdn.map((a) => {
      if (a.oid !== Oid.commonName) return a;
      hasCn = true;
      return { oid: a.oid, value: `${a.value}${SUFFIX}` };
    }),
  );
  if (!hasCn) rdns.push([{ oid: Oid.commonName, value: `Outpost${SUFFIX}` }]);
  return formatRfc4514(rdns);
}
