import { constants, createPublicKey, privateDecrypt, publicEncrypt, randomBytes, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { BuiltinCa } from '../../connector/ca/builtin/builtin-ca.js';
import { Authority } from '../../connector/issuance/authority.js';
import { ChallengeVerifier } from '../../connector/issuance/challenge/challenge-verifier.js';
import { createConnectorHttp } from '../../connector/scep/http/connector-http.js';
import { ScepOperations } from '../../connector/scep/http/scep-operations.js';
import { registerScepRoutes } from '../../connector/scep/http/scep-routes.js';
import { SqliteChallengeStore } from '../../connector/store/challenge-store.js';
import { openDatabase } from '../../connector/store/database.js';
import { SqliteInventory } from '../../connector/store/inventory.js';
import { SqlitePendingStore } from '../../connector/store/pending-store.js';
import { type FloorRung, type FloorServerEnv, floorChallenge } from './floor-rungs.js';

/**
 * One server process of `floor.ts` (forked, never run by hand): serves the connections its parent
 * hands over, doing only what its rung names. The CA and RA are the built-in CA's, opened from the
 * directory the parent made, so every rung uses the appliance's own key objects.
 */
const env = JSON.parse(process.env.OUTPOST_FLOOR ?? '{}') as FloorServerEnv;
const rung: FloorRung = env.rung;
const db = openDatabase(rung === 'ops-file' || rung === 'fastify' ? join(env.dir, env.dbName) : ':memory:');
const inventory = new SqliteInventory(db);
const ca = await BuiltinCa.open({ dir: join(env.dir, 'ca'), keyAlgorithm: 'rsa-2048', inventory });
const clock = () => new Date();
const authority = new Authority({
  backend: ca,
  inventory,
  pending: new SqlitePendingStore(db),
  challenges: new ChallengeVerifier({
    staticChallenge: floorChallenge,
    oneTime: false,
    store: new SqliteChallengeStore(db),
    clock,
  }),
  profiles: new Map([
    [
      'default',
      {
        name: 'default',
        validityDays: 365,
        keyUsage: ['digitalSignature', 'keyEncipherment'],
        eku: ['clientAuth'],
        keyTypes: ['rsa', 'ec'],
        minRsaBits: 2048,
        approval: 'auto',
        allowedSanTypes: ['dns'],
      },
    ],
  ]),
  defaultProfile: 'default',
  clock,
});
const ra = {
  certDer: ca.raCertificateDer,
  privateKey: ca.raDecryptionKey,
  signer: ca.raSigner,
  caChainDer: ca.caChain(),
  currentCrl: () => ca.currentCrl(),
};
const logger = pino({ level: 'warn' });
const operations = new ScepOperations({ ra, authority, maxMessageBytes: 65_536, logger });
const outcomes: Record<string, number> = {};

// The RSA rungs: inputs of the real sizes (a 256-byte block below the modulus, a ~900-byte
// TBSCertificate, ~250 bytes of signed attributes), the public half of a device key.
const block = randomBytes(256);
block[0] = 0;
const tbs = randomBytes(900);
const signedAttributes = randomBytes(250);
const deviceKey = createPublicKey(env.devicePublicKeyPem);
const signed = Buffer.from(env.signedHex, 'hex');
const signature = Buffer.from(env.signatureHex, 'hex');
const reply = randomBytes(env.replyBytes);

/** The three private operations of an enrollment, and with `pub` its three public ones. */
function rsaWork(pub: boolean): void {
  privateDecrypt({ key: ca.raDecryptionKey as never, padding: constants.RSA_NO_PADDING }, block);
  ca.caSigner.sign(tbs, 'sha256');
  ca.raSigner.sign(signedAttributes, 'sha256');
  if (!pub) return;
  if (!verify('sha256', signed, deviceKey, signature) || !verify('sha256', signed, deviceKey, signature))
    throw new Error('device signature did not verify');
  publicEncrypt({ key: deviceKey, padding: constants.RSA_PKCS1_PADDING }, randomBytes(16));
}

async function bare(body: Buffer, client: string): Promise<Buffer> {
  if (rung === 'rsa' || rung === 'pub') rsaWork(rung === 'pub');
  if (rung !== 'ops-mem' && rung !== 'ops-file') return reply;
  const result = await operations.pkiOperation(body, client);
  outcomes[result.status] = (outcomes[result.status] ?? 0) + 1;
  return result.body;
}

async function serverForRung(): Promise<Server> {
  if (rung === 'fastify') {
    const app = createConnectorHttp({ maxBodyBytes: 65_536, requestTimeoutMs: 30_000 });
    const limits = { maxBodyBytes: 65_536, ratePerClientPerMinute: 0, maxConcurrent: 1024 };
    const metrics = {
      observe: (_operation: string, outcome: string) => {
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      },
    };
    registerScepRoutes(app, { path: '/scep', ra, operations, limits, logger, metrics });
    await app.ready();
    return app.server;
  }
  return createServer({ keepAlive: true }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bare(Buffer.concat(chunks), request.socket.remoteAddress ?? '').then(
        (body) => {
          response.writeHead(200, {
            'content-type': 'application/x-pki-message',
            'content-length': body.length,
          });
          response.end(body);
        },
        () => response.writeHead(500).end(),
      );
    });
  });
}

const server = await serverForRung();
server.emit('listening'); // never listens: the parent hands it connections
process.on('message', (message: unknown, socket?: Socket) => {
  if (message === 'outcomes') process.send?.({ outcomes });
  else if (message === 'connection' && socket) {
    server.emit('connection', socket);
    socket.resume();
  }
});
process.on('SIGTERM', () => process.exit(0));
process.send?.('ready');
