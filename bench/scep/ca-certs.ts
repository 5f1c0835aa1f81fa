import { get } from 'node:http';
import { decodeSignedData } from '../../certs/cms/index.js';

/**
 * GetCACert on a connection of its own: fetch's pooled socket may be one the server closes as
 * idle (keepAliveTimeout 5 s) at the very moment it is reused, after the seconds spent checking
 * the previous row and preparing the next ("other side closed").
 */
export async function caCerts(url: string): Promise<Buffer[]> {
  const { contentType, body } = await new Promise<{ contentType: string; body: Buffer }>(
    (resolve, reject) => {
      get(`${url}?operation=GetCACert`, { agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ contentType: res.headers['content-type'] ?? '', body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      }).on('error', reject);
    },
  );
  if (contentType.includes('x-x509-ca-ra-cert'))
    return decodeSignedData(body, { maxBytes: 1 << 20 }).certificates;
  return [body];
}
