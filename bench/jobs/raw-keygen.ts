import { generateKeyPair } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';

const generate = promisify(generateKeyPair);

/**
 * The machine's raw RSA-2048 key generation rate with node:crypto alone: `count` async
 * generateKeyPair calls kept `parallel` deep (libuv's pool spreads them over the cores), which
 * is the best a PKCS job can do for its key. Keys per second.
 */
export async function rawRsa2048Rate(count: number, parallel = availableParallelism()): Promise<number> {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      await generate('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: parallel }, worker));
  return count / ((performance.now() - t0) / 1000);
}
