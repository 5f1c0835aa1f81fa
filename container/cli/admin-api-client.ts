import { request } from 'node:http';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { adminApiEndpoint, describeAdminApiEndpoint } from '../config/admin-api-endpoint.js';
import { isWildcardHost, parseListenAddress } from '../config/listen-address.js';
import type { OutpostConfig } from '../config/schema.js';

const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/**
 * Asks the running appliance's local admin API (admin.api: its Unix socket by default, or TCP)
 * with the admin token from the data directory. GET without a body, POST with a JSON body.
 */
export async function adminApiRequest(config: OutpostConfig, path: string, body?: unknown): Promise<unknown> {
  const { readAdminToken } = await import('../wiring/admin-token.js');
  const token = await readAdminToken(config.dataDir).catch((e: unknown) => {
    throw new OutpostError(
      ErrorCodes.unavailable,
      'no admin token: is the appliance running with this data directory?',
      { cause: e },
    );
  });
  const endpoint = adminApiEndpoint(config);
  const answer = await send(endpoint, path, token, body).catch((e: unknown) => {
    throw new OutpostError(
      ErrorCodes.unavailable,
      `cannot reach the appliance's admin API at ${describeAdminApiEndpoint(endpoint)} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: e },
    );
  });
  const json = (() => {
    try {
      return JSON.parse(answer.body) as { error?: string };
    } catch {
      return {};
    }
  })();
  if (answer.status === 404) throw new OutpostError(ErrorCodes.notFound, json.error ?? 'not found');
  if (answer.status < 200 || answer.status > 299)
    throw new OutpostError(ErrorCodes.unavailable, json.error ?? `admin API answered ${answer.status}`);
  return json;
}

function send(
  endpoint: ReturnType<typeof adminApiEndpoint>,
  path: string,
  token: string,
  body: unknown,
): Promise<{ status: number; body: string }> {
  const where =
    'socket' in endpoint
      ? { socketPath: endpoint.socket }
      : (() => {
          const address = parseListenAddress(endpoint.listen)!;
          return { host: isWildcardHost(address.host) ? '127.0.0.1' : address.host, port: address.port };
        })();
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...where,
        path,
        method: payload === undefined ? 'GET' : 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new Error('admin API answer too large'));
          else chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(payload);
  });
}
