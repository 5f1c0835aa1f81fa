import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { buildCsr } from '../../certs/csr.js';
import { generateKeyPair, type KeyAlgorithm, privateKeyToPem } from '../../certs/keys.js';
import { toPem } from '../../certs/pem.js';
import type { CloudMessage } from '../../link/schema/index.js';
import { cliPath, freePort } from './appliance.js';

export interface HttpResult {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies read by the tests
  body: any;
}

export interface RunningCloud {
  url: string;
  port: number;
  dataDir: string;
  caPem: string;
  adminToken: string;
  logs(): string;
  /** An HTTPS request trusting the cloud CA; `admin` adds the admin bearer token. */
  http(method: string, path: string, body?: unknown, options?: { admin?: boolean }): Promise<HttpResult>;
  admin(method: string, path: string, body?: unknown): Promise<HttpResult>;
  stop(options?: { keepData?: boolean }): Promise<void>;
  /** SIGKILL: no graceful close of the sockets or the database. */
  kill(): Promise<void>;
}

/**
 * Starts `outpost cloud` from dist/ on a free loopback port with its own data directory (or the one
 * given, to restart over existing state) and waits until it answers /healthz over HTTPS.
 */
export async function startCloud(
  options: { dataDir?: string; args?: string[]; port?: number } = {},
): Promise<RunningCloud> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'outpost-cloud-'));
  const port = options.port ?? (await freePort());
  let output = '';
  const child = spawn(
    process.execPath,
    [cliPath, 'cloud', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, ...(options.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = `https://127.0.0.1:${port}`;
  const caPem = await waitReady(url, dataDir, child, () => output);
  const adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const http = (method: string, path: string, body?: unknown, o: { admin?: boolean } = {}) =>
    httpsJson(url, caPem, method, path, body, o.admin ? adminToken : undefined);
  return {
    url,
    port,
    dataDir,
    caPem,
    adminToken,
    logs: () => output,
    http,
    admin: (method, path, body) => http(method, path, body, { admin: true }),
    stop: async (o) => {
      await stopChild(child, 'SIGTERM');
      if (!o?.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
    kill: () => stopChild(child, 'SIGKILL'),
  };
}

async function waitReady(
  url: string,
  dataDir: string,
  child: ChildProcess,
  logs: () => string,
): Promise<string> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`cloud exited with ${child.exitCode}:\n${logs()}`);
    try {
      const caPem = readFileSync(join(dataDir, 'ca.pem'), 'utf8');
      if ((await httpsJson(url, caPem, 'GET', '/healthz')).status === 200) return caPem;
    } catch {
      // not written or not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`cloud not ready within 60 s:\n${logs()}`);
}

/** Signals a child and waits for it to exit (SIGKILL after 10 s). */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export function httpsJson(
  base: string,
  caPem: string,
  method: string,
  path: string,
  body?: unknown,
  bearer?: string,
): Promise<HttpResult> {
  return new Promise((done, fail) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request(
      new URL(path, base),
      {
        method,
        ca: caPem,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          done({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', fail);
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.end(payload);
  });
}

export interface EnrolledAppliance {
  applianceId: string;
  keyPem: string;
  certPem: string;
  chain: string[];
}

/** A key pair and CSR made with certs/, enrolled with a fresh one-time token (into `site` if given). */
export async function enroll(
  cloud: RunningCloud,
  roles: string[] = ['gateway', 'connector'],
  algorithm: KeyAlgorithm = 'ec-p256',
  site?: string,
): Promise<EnrolledAppliance> {
  const created = await cloud.admin('POST', '/v1/admin/enrollment-tokens', site ? { site } : {});
  if (created.status !== 201) throw new Error(`token: ${created.status} ${JSON.stringify(created.body)}`);
  const { csrPem, keyPem } = await makeCsr(algorithm);
  const res = await cloud.http('POST', '/v1/enroll', { token: created.body.token, csr: csrPem, roles });
  if (res.status !== 201) throw new Error(`enroll: ${res.status} ${JSON.stringify(res.body)}`);
  return { applianceId: res.body.applianceId, keyPem, certPem: res.body.certificate, chain: res.body.chain };
}

export async function makeCsr(
  algorithm: KeyAlgorithm = 'ec-p256',
): Promise<{ csrPem: string; keyPem: string }> {
  const keys = await generateKeyPair(algorithm);
  return {
    csrPem: toPem('CERTIFICATE REQUEST', buildCsr('CN=outpost-appliance', keys)),
    keyPem: privateKeyToPem(keys.privateKey),
  };
}

/** A link client: a `ws` socket plus a queue of parsed messages to await one by one. */
export class LinkClient {
  readonly messages: CloudMessage[] = [];
  private waiters: Array<() => void> = [];
  closeCode: number | undefined;
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.messages.push(JSON.parse(data.toString()) as CloudMessage);
      this.wake();
    });
    this.closed = new Promise((done) =>
      ws.on('close', (code) => {
        this.closeCode = code;
        this.wake();
        done(code);
      }),
    );
  }

  /** Opens the link; resolves once upgraded, rejects with the HTTP status when refused. */
  static connect(
    cloud: { url: string; caPem: string },
    identity?: { certPem: string; keyPem: string },
  ): Promise<LinkClient> {
    return new Promise((done, fail) => {
      const ws = new WebSocket(`${cloud.url.replace('https:', 'wss:')}/v1/link`, {
        ca: cloud.caPem,
        ...(identity ? { cert: identity.certPem, key: identity.keyPem } : {}),
        maxPayload: 4 << 20,
      });
      const client = new LinkClient(ws);
      ws.once('open', () => done(client));
      ws.once('unexpected-response', (_req, res) => fail(new Error(`refused: ${res.statusCode}`)));
      ws.once('error', fail);
    });
  }

  send(message: Record<string, unknown>): string {
    const id = (message.id as string | undefined) ?? randomUUID();
    this.ws.send(JSON.stringify({ v: 1, id, ...message }));
    return id;
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  hello(applianceId: string, extra: Record<string, unknown> = {}): string {
    return this.send({
      type: 'hello',
      applianceId,
      roles: ['gateway', 'connector'],
      version: '0.1.0-test',
      configVersion: null,
      pendingResults: [],
      ...extra,
    });
  }

  /** The next message (of `type`, skipping others only if `skip` is set); fails if the socket closes first. */
  async next<T extends CloudMessage['type']>(
    type?: T,
    options: { skip?: boolean } = {},
  ): Promise<Extract<CloudMessage, { type: T }>> {
    for (;;) {
      while (this.messages.length > 0) {
        const message = this.messages.shift()!;
        if (type === undefined || message.type === type) return message as Extract<CloudMessage, { type: T }>;
        if (!options.skip) throw new Error(`expected ${type}, got ${JSON.stringify(message)}`);
      }
      if (this.closeCode !== undefined)
        throw new Error(`link closed (${this.closeCode}) while waiting for ${type}`);
      await new Promise<void>((wake) => this.waiters.push(wake));
    }
  }

  close(): Promise<number> {
    this.ws.close(1000);
    return this.closed;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
