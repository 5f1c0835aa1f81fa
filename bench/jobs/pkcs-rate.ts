import { constants, generateKeyPair, generateKeyPairSync, privateDecrypt, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { readPkcs12 } from '../../certs/pkcs12/read-pkcs12.js';
import { BuiltinCa } from '../../connector/ca/builtin/builtin-ca.js';
import { Authority } from '../../connector/issuance/authority.js';
import { ChallengeVerifier } from '../../connector/issuance/challenge/challenge-verifier.js';
import { issuePkcs, type PkcsIssueDeps } from '../../connector/pkcs/issue-pkcs.js';
import { KeySealer } from '../../connector/pkcs/key-sealer.js';
import { SqliteChallengeStore } from '../../connector/store/challenge-store.js';
import { openDatabase } from '../../connector/store/database.js';
import { SqliteInventory } from '../../connector/store/inventory.js';
import { SqlitePendingStore } from '../../connector/store/pending-store.js';

const generate = promisify(generateKeyPair);

/**
 * `node dist-tools/bench/jobs/pkcs-rate.js`: issuePkcs per second in one process, without the link —
 * key generation, CSR, built-in CA (RSA-2048) signature, SQLite inventory (WAL file), sealed
 * checkpoint, PKCS#12 (modern), password encrypted to the device — for ECDSA P-256 and RSA-2048,
 * beside node:crypto's raw generateKeyPair rate for the same algorithm, both kept `parallel`
 * calls deep. The ratio says how much of a PKCS job is the key generation itself.
 * Last line: `pkcs: p256=… raw_p256=… rsa2048=… raw_rsa2048=…` (per second).
 */
const { values } = parseArgs({
  options: {
    p256: { type: 'string', default: '400' },
    rsa: { type: 'string', default: '60' },
    parallel: { type: 'string', default: String(availableParallelism()) },
  },
});
const parallel = Number(values.parallel);

async function rate(count: number, body: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < count) await body(next++);
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: parallel }, worker));
  return count / ((performance.now() - t0) / 1000);
}

const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-pkcs-'));
const db = openDatabase(join(dir, 'outpost.db'));
const inventory = new SqliteInventory(db);
const ca = await BuiltinCa.open({ dir: join(dir, 'ca'), keyAlgorithm: 'rsa-2048', inventory });
const clock = () => new Date();
const authority = new Authority({
  backend: ca,
  inventory,
  pending: new SqlitePendingStore(db),
  challenges: new ChallengeVerifier({
    staticChallenge: null,
    oneTime: false,
    store: new SqliteChallengeStore(db),
    clock,
  }),
  profiles: new Map([
    [
      'user',
      {
        name: 'user',
        validityDays: 365,
        keyUsage: ['digitalSignature', 'keyEncipherment'],
        eku: ['clientAuth', 'emailProtection'],
        keyTypes: ['rsa', 'ec'],
        minRsaBits: 2048,
        approval: 'auto',
        allowedSanTypes: ['email', 'upn'],
      },
    ],
  ]),
  defaultProfile: 'user',
  clock,
});
const checkpoints = new Map<string, Buffer>();
const deps: PkcsIssueDeps = {
  authority,
  inventory,
  checkpoints: { get: (id) => checkpoints.get(id), put: (id, data) => void checkpoints.set(id, data) },
  sealer: KeySealer.withKey(randomBytes(32)),
  caChain: () => ca.caChain(),
};
const device = generateKeyPairSync('rsa', { modulusLength: 2048 });
const devicePublicKey = device.publicKey.export({ type: 'spki', format: 'pem' }) as string;

async function pkcsRate(keyAlgorithm: 'ec-p256' | 'rsa-2048', count: number): Promise<number> {
  let checked = 0;
  const result = await rate(count, async (i) => {
    const issued = await issuePkcs(deps, {
      jobId: `${keyAlgorithm}-${i}-${Date.now()}`,
      profile: 'user',
      subject: `CN=bench-user-${i},O=Bench`,
      sans: [{ type: 'email', value: `user${i}@bench.test` }],
      keyAlgorithm,
      protection: 'modern',
      devicePublicKey,
    });
    // every tenth result is opened as the device would, outside the timing's critical share
    if (i % 10 === 0) {
      const password = privateDecrypt(
        { key: device.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        issued.encryptedPassword,
      ).toString();
      if (readPkcs12(issued.pfx, password).keys.length !== 1) throw new Error('PFX without its key');
      checked++;
    }
  });
  if (checked === 0) throw new Error('nothing checked');
  return result;
}

const rawP256 = await rate(Number(values.p256), () => generate('ec', { namedCurve: 'prime256v1' }));
const p256 = await pkcsRate('ec-p256', Number(values.p256));
const rawRsa = await rate(Number(values.rsa), () =>
  generate('rsa', { modulusLength: 2048, publicExponent: 0x10001 }),
);
const rsa = await pkcsRate('rsa-2048', Number(values.rsa));

const f = (n: number) => n.toFixed(1);
console.log(`parallel=${parallel} cores=${availableParallelism()} node=${process.version}`);
console.log(
  `ec-p256:  issuePkcs ${f(p256)}/s  raw generateKeyPair ${f(rawP256)}/s  (${f((100 * p256) / rawP256)}%)`,
);
console.log(
  `rsa-2048: issuePkcs ${f(rsa)}/s  raw generateKeyPair ${f(rawRsa)}/s  (${f((100 * rsa) / rawRsa)}%)`,
);
console.log(`pkcs: p256=${f(p256)} raw_p256=${f(rawP256)} rsa2048=${f(rsa)} raw_rsa2048=${f(rawRsa)}`);
db.close();
rmSync(dir, { recursive: true, force: true });
