import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAppliance, startAppliance } from './testing/appliance.js';
import { requirePeers } from './testing/peers.js';
import { pendingTransactionFor } from './testing/pending.js';
import { openssl } from './testing/run.js';
import { scepclient } from './testing/scepclient.js';

requirePeers('scepclient', 'openssl');

// Manual approval: the server answers PENDING, micromdm scepclient sleeps 30 s and polls with
// GetCertInitial (CertPoll, RFC 8894 §3.3.3) under the same transactionID until it gets an answer.
describe('micromdm scepclient with manual approval (PENDING, then polling)', () => {
  let app: RunningAppliance;
  beforeAll(async () => {
    app = await startAppliance({
      connector: {
        scep: { challenge: { static: 'approve-me' } },
        profiles: { device: { approval: 'manual' } },
      },
    });
  });
  afterAll(async () => app?.stop());

  it('issues after `certs approve` and refuses after `certs reject`', async () => {
    const approved = scepclient(app.scepUrl, {
      cn: 'needs-approval',
      challenge: 'approve-me',
      timeoutMs: 75_000,
    });
    const rejected = scepclient(app.scepUrl, {
      cn: 'will-be-rejected',
      challenge: 'approve-me',
      timeoutMs: 75_000,
    });
    const approveId = await pendingTransactionFor(app, 'needs-approval');
    const rejectId = await pendingTransactionFor(app, 'will-be-rejected');

    const approval = await app.cli(['certs', 'approve', approveId]);
    expect(approval.code, approval.stderr).toBe(0);
    expect((await app.cli(['certs', 'approve', approveId])).code).toBe(4); // already decided
    expect((await app.cli(['certs', 'reject', rejectId])).code).toBe(0);
    expect((await app.cli(['certs', 'approve', 'no-such-transaction'])).code).toBe(3);

    const [ok, refused] = await Promise.all([approved, rejected]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const subject = await openssl(['x509', '-in', ok.certFile, '-noout', '-subject']);
    expect(subject).toContain('needs-approval');
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toContain('failInfo: badRequest (2)');
  }, 100_000);
});
