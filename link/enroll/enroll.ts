import { request } from 'node:https';
import { z } from 'zod';
import { buildCsr } from '../../certs/csr-builder.js';
import { generateKeyPair, type KeyPair, privateKeyToPem } from '../../certs/keys.js';
import { toPem } from '../../certs/pem.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { LinkLimits } from '../schema/limits.js';
import { enrollUrl, hostPort } from '../transport/cloud-url.js';
import { tlsCredentials, tunnelledConnection } from '../transport/tls-connect.js';
import {
  certificateMatchesKey,
  certificateValidity,
  type LinkState,
  writeEnrollment,
} from './agent-files.js';

export type EnrollRole = 'gateway' | 'connector';

export interface EnrollOptions {
  cloudUrl: string;
  token: string;
  roles: EnrollRole[];
  dataDir: string;
  /** PEM bundle of the cloud's CA; it is pinned for the link from then on. */
  cloudCa?: string;
  proxyUrl?: string;
  timeoutMs?: number;
  clock?: () => Date;
}

const enrollResponse = z.object({
  applianceId: z.string().min(1).max(LinkLimits.maxIdLength),
  certificate: z.string().min(1).max(LinkLimits.maxPemLength),
  chain: z.array(z.string().min(1).max(LinkLimits.maxPemLength)).max(LinkLimits.maxChainLength).default([]),
});
export type EnrollResponse = z.infer<typeof enrollResponse>;

const MAX_RESPONSE_BYTES = 512 * 1024;

/** A fresh agent key pair and its CSR (PEM). The subject is a placeholder: the cloud names the appliance. */
export async function agentKeyAndCsr(): Promise<{ keyPair: KeyPair; keyPem: string; csrPem: string }> {
  const keyPair = await generateKeyPair('ec-p256');
  const csrPem = toPem('CERTIFICATE REQUEST', buildCsr('CN=outpost-appliance', keyPair));
  return { keyPair, keyPem: privateKeyToPem(keyPair.privateKey), csrPem };
}

/**
 * `outpost enroll`: key pair, CSR and one-time token → the cloud's `POST /v1/enroll` → appliance id and
 * client certificate, stored under DATA/link with the pinned cloud CA and link.json, so that
 * `outpost run` connects afterwards with no further flags (DESIGN, "The link protocol").
 */
export async function enroll(options: EnrollOptions): Promise<LinkState & { notAfter: Date }> {
  const { keyPem, csrPem } = await agentKeyAndCsr();
  const body = JSON.stringify({ token: options.token, csr: csrPem, roles: options.roles });
  const answer = await postJson(enrollUrl(options.cloudUrl), body, options);
  const parsed = enrollResponse.safeParse(answer);
  if (!parsed.success) {
    throw new OutpostError(ErrorCodes.decode, 'the cloud answered enrollment with an unexpected body', {
      detail: parsed.error.issues[0]?.message,
    });
  }
  const { applianceId, certificate, chain } = parsed.data;
  const certPem = [certificate, ...chain].map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');
  if (!certificateMatchesKey(certPem, keyPem)) {
    throw new OutpostError(ErrorCodes.badRequest, 'the certificate from the cloud is not for the key sent');
  }
  const state: LinkState = {
    applianceId,
    cloudUrl: options.cloudUrl,
    roles: options.roles,
    enrolledAt: (options.clock?.() ?? new Date()).toISOString(),
  };
  writeEnrollment(options.dataDir, {
    key: keyPem,
    cert: certPem,
    ...(options.cloudCa !== undefined ? { cloudCa: options.cloudCa } : {}),
    state,
  });
  return { ...state, notAfter: certificateValidity(certPem).notAfter };
}

/** Maps the cloud's refusal onto our codes: a bad token is unauthorized, not a crash. */
function refusal(status: number, text: string): OutpostError {
  let reason = '';
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: unknown };
    const m = body.message ?? body.error;
    if (typeof m === 'string') reason = `: ${m.slice(0, 200)}`;
  } catch {
    // not JSON: the status says enough
  }
  const code =
    status === 401 || status === 403
      ? ErrorCodes.unauthorized
      : status === 409
        ? ErrorCodes.conflict
        : status >= 500
          ? ErrorCodes.unavailable
          : ErrorCodes.badRequest;
  return new OutpostError(code, `the cloud refused enrollment (HTTP ${status}${reason})`);
}

async function postJson(url: URL, body: string, options: EnrollOptions): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const tls = {
    ...(options.cloudCa ? { ca: options.cloudCa } : {}),
    timeoutMs,
    ...(options.proxyUrl ? { proxyUrl: options.proxyUrl } : {}),
  };
  const createConnection = await tunnelledConnection(hostPort(url), tls);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      ...tlsCredentials(tls),
      ...(createConnection ? { createConnection } : {}),
      agent: false,
    });
    const timer = setTimeout(() => {
      req.destroy(new OutpostError(ErrorCodes.unavailable, `enrollment at ${url.host} timed out`));
    }, timeoutMs);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy(new OutpostError(ErrorCodes.limit, 'enrollment response too large'));
          return;
        }
        chunks.push(chunk);
      });
      res.once('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) return reject(refusal(status, text));
        try {
          resolve(JSON.parse(text));
        } catch (cause) {
          reject(
            new OutpostError(ErrorCodes.decode, 'the cloud answered enrollment with invalid JSON', { cause }),
          );
        }
      });
    });
    req.once('error', (e) => {
      clearTimeout(timer);
      if (e instanceof OutpostError) return reject(e);
      const code = (e as NodeJS.ErrnoException).code ?? '';
      reject(
        new OutpostError(
          ErrorCodes.unavailable,
          `cannot reach the cloud at ${url.host} (${code || e.message})`,
          { cause: e },
        ),
      );
    });
    req.end(body);
  });
}
