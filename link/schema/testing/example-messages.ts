/**
 * One valid message of each kind and direction, by name: the starting points of the schema's
 * tests (parse.test.ts) and of the link-message fuzz target (fuzz/targets/link-message.ts).
 */
export const exampleTime = '2026-01-02T03:04:05.000Z';
export const exampleHello = {
  v: 1,
  type: 'hello',
  id: 'm-1',
  applianceId: 'a1b2',
  roles: ['gateway', 'connector'],
  version: '0.1.0',
  configVersion: null,
  pendingResults: ['job-1'],
};
const health = {
  v: 1,
  type: 'health',
  id: 'h1',
  report: {
    cpu: { usagePercent: 12.5, loadAverage1m: 0.3, cores: 2 },
    memory: { usedBytes: 1, totalBytes: 2, rssBytes: 1 },
    disk: { path: '/var/lib/outpost', freeBytes: 10, totalBytes: 20 },
    linkLatencyMs: 3,
    tlsCertExpiry: exampleTime,
    agentCertExpiry: null,
    sessions: 4,
    throughput: { rxBytesPerSecond: 1, txBytesPerSecond: 2 },
    internalProbe: { url: 'http://intranet/', ok: true, ms: 5 },
    caReachable: null,
    version: '0.1.0',
  },
};

/** Appliance → cloud. */
export const applianceExamples: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
  ['hello', exampleHello],
  ['health', health],
  [
    'event scep.issued',
    {
      v: 1,
      type: 'event',
      id: 'e1',
      at: exampleTime,
      event: {
        kind: 'scep.issued',
        transactionId: 't1',
        serialHex: '0a1b',
        thumbprint: 'ab'.repeat(32),
        notAfter: exampleTime,
      },
    },
  ],
  ['job.accepted', { v: 1, type: 'job.accepted', id: 'x', jobId: 'job-1' }],
  ['job.cancelled', { v: 1, type: 'job.cancelled', id: 'x', jobId: 'job-1', status: 'dropped' }],
  ['job.result done', { v: 1, type: 'job.result', id: 'x', jobId: 'j', status: 'done', result: { a: 1 } }],
  [
    'job.result failed',
    {
      v: 1,
      type: 'job.result',
      id: 'x',
      jobId: 'j',
      status: 'failed',
      error: { code: 'OUTPOST_ERR_CONFLICT', retryable: false, message: 'already revoked' },
    },
  ],
  ['config.result', { v: 1, type: 'config.result', id: 'x', version: 3, status: 'applied' }],
  ['renew', { v: 1, type: 'renew', id: 'x', csr: '-----BEGIN CERTIFICATE REQUEST-----' }],
  ['error', { v: 1, type: 'error', id: 'x', code: 'OUTPOST_ERR_DECODE', message: 'bad' }],
];

/** Cloud → appliance. */
export const cloudExamples: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
  ['welcome', { v: 1, type: 'welcome', id: 'w', applianceId: 'a', serverTime: exampleTime }],
  ['config', { v: 1, type: 'config', id: 'c', version: 2, config: { gateway: { listen: '0.0.0.0:443' } } }],
  [
    'job',
    {
      v: 1,
      type: 'job',
      id: 'c-9',
      job: { id: 'job-1', kind: 'session.revoke', payload: { user: 'alice' }, createdAt: exampleTime },
    },
  ],
  ['job.start', { v: 1, type: 'job.start', id: 's', jobId: 'job-1' }],
  ['job.cancel', { v: 1, type: 'job.cancel', id: 'q', jobId: 'job-1', reason: 'reassigned' }],
  ['ack', { v: 1, type: 'ack', id: 'k', ref: 'x', jobId: 'j' }],
  [
    'jwks',
    {
      v: 1,
      type: 'jwks',
      id: 'j',
      issuer: 'https://cloud',
      keys: [{ kty: 'EC', kid: 'k', crv: 'P-256', x: 'a', y: 'b' }],
    },
  ],
  ['renewed', { v: 1, type: 'renewed', id: 'r', ref: 'x', certificate: 'PEM', chain: ['PEM'] }],
];
