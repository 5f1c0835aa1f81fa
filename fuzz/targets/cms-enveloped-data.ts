import { createPrivateKey } from 'node:crypto';
import { decryptEnvelopedData } from '../../certs/cms/index.js';
import { almostValidDer } from '../der-mutations.js';
import { repoFile } from '../repo-file.js';
import { type FuzzTarget, isCodecError, showBytes } from '../target.js';

/**
 * CMS EnvelopedData decryption (certs/cms decryptEnvelopedData): RSA key transport (v1.5 with
 * implicit rejection, OAEP) and every content cipher, with the recipient's real key, so that
 * mutations reach the key unwrap and the padding removal. The slowest target: an RSA private
 * operation per input that gets that far.
 */
export function cmsEnvelopedDataTarget(): FuzzTarget<Buffer> {
  const dir = 'certs/cms/fixtures/';
  const seeds = [
    'enveloped-aes-128-cbc.der',
    'enveloped-aes-256-cbc.der',
    'enveloped-des-cbc.der',
    'enveloped-des-ede3-cbc.der',
    'enveloped-keyid.der',
    'enveloped-oaep-sha1.der',
    'enveloped-oaep-sha256.der',
    'enveloped-two-recipients.der',
    'enveloped-ber.der',
  ].map((f) => repoFile(dir + f));
  const recipient = {
    certDer: repoFile(`${dir}rsa.crt.der`),
    privateKey: createPrivateKey(repoFile(`${dir}rsa.key`)),
  };
  return {
    name: 'cms-enveloped-data',
    arbitrary: almostValidDer(seeds),
    check: (der) => void decryptEnvelopedData(der, recipient, { maxBytes: 64 * 1024 }),
    isExpectedError: isCodecError,
    show: showBytes,
  };
}
