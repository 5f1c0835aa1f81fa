import * as asn1js from 'asn1js';
import { signatureAlgorithm } from './algorithms.js';
import { decodeDer, toBuffer } from './asn1.js';
import type { SubjectAltNames } from './csr.js';
import {
  type Extension,
  emptySans,
  encodeExtension,
  encodeExtKeyUsage,
  encodeKeyUsage,
  encodeSubjectAltNames,
  hasSans,
} from './extensions.js';
import { type KeyPair, keyPairSigner, spkiDer } from './keys.js';
import { parseDn } from './name.js';
import { Oid } from './oids.js';
import type { HashName } from './signer.js';

export interface BuildCsrOptions {
  sans?: Partial<SubjectAltNames>;
  challengePassword?: string;
  keyUsage?: string[];
  eku?: string[];
  hash?: HashName;
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** Builds and signs a PKCS#10 request (RFC 2986) — for tests, benchmarks and appliance enrollment. */
export function buildCsr(subjectText: string, keyPair: KeyPair, opts: BuildCsrOptions = {}): Buffer {
  const signer = keyPairSigner(keyPair);
  const hash = opts.hash ?? 'sha256';
  const info = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 0 }),
      decodeDer(parseDn(subjectText).der, 'Name'),
      decodeDer(spkiDer(keyPair.publicKey), 'SPKI'),
      new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: attributes(opts) }),
    ],
  });
  const tbs = toBuffer(info.toBER(false));
  const csr = new asn1js.Sequence({
    value: [
      decodeDer(tbs, 'CertificationRequestInfo'),
      signatureAlgorithm(signer.keyType, hash),
      new asn1js.BitString({ valueHex: signer.sign(tbs, hash) }),
    ],
  });
  return toBuffer(csr.toBER(false));
}

/** challengePassword sorts before extensionRequest (DER SET OF order, X.690 §11.6). */
function attributes(opts: BuildCsrOptions): asn1js.Sequence[] {
  const out: asn1js.Sequence[] = [];
  if (opts.challengePassword !== undefined) {
    const pw = opts.challengePassword;
    const value = PRINTABLE.test(pw)
      ? new asn1js.PrintableString({ value: pw })
      : new asn1js.Utf8String({ value: pw });
    out.push(attribute(Oid.challengePassword, value));
  }
  const extensions = requestedExtensions(opts);
  if (extensions.length > 0) {
    out.push(
      attribute(Oid.extensionRequest, new asn1js.Sequence({ value: extensions.map(encodeExtension) })),
    );
  }
  return out;
}

function attribute(oid: string, value: asn1js.AsnType): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: oid }), new asn1js.Set({ value: [value] })],
  });
}

function requestedExtensions(opts: BuildCsrOptions): Extension[] {
  const sans = { ...emptySans(), ...opts.sans };
  const out: Extension[] = [];
  if (opts.keyUsage?.length)
    out.push({ oid: Oid.keyUsage, critical: true, value: encodeKeyUsage(opts.keyUsage) });
  if (hasSans(sans))
    out.push({ oid: Oid.subjectAltName, critical: false, value: encodeSubjectAltNames(sans) });
  if (opts.eku?.length)
    out.push({ oid: Oid.extKeyUsage, critical: false, value: encodeExtKeyUsage(opts.eku) });
  return out;
}
