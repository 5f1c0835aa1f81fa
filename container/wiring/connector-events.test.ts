import { describe, expect, it } from 'vitest';
import type { InventoryRecord } from '../../connector/ports.js';
import { toLinkEvent } from '../../link/link-service.js';
import { linkEvent } from '../../link/schema/appliance-messages.js';
import { issuedEvent } from './connector-events.js';

const record: InventoryRecord = {
  serialHex: '0a1b',
  subject: 'CN=device-1',
  sans: [],
  profile: 'device',
  requester: 'job:job-42',
  notBefore: new Date('2026-01-01T00:00:00Z'),
  notAfter: new Date('2027-01-01T00:00:00Z'),
  status: 'valid',
  thumbprint: 'ab'.repeat(32),
  der: Buffer.from('30', 'hex'),
};

// What LinkService.emit does before journaling an event: a failure here is a dropped event.
function reported(event: ReturnType<typeof issuedEvent>) {
  return linkEvent.safeParse(toLinkEvent(event));
}

describe('issuedEvent on the link', () => {
  it.each([
    ['a cert.pkcs.issue job (no SCEP transaction)', record, 'job:job-42', { jobId: 'job-42' }],
    [
      'a SCEP enrollment',
      { ...record, requester: 'scep', transactionId: 'tx-1' },
      'challenge:one-time',
      { transactionId: 'tx-1' },
    ],
  ])('is reportable for %s', (_name, rec, via, ids) => {
    const parsed = reported(issuedEvent(rec, via));
    expect(parsed.error?.issues ?? []).toEqual([]);
    expect(parsed.data).toEqual({
      kind: 'scep.issued',
      ...ids,
      serialHex: '0a1b',
      thumbprint: 'ab'.repeat(32),
      notAfter: '2027-01-01T00:00:00.000Z',
      subject: 'CN=device-1',
    });
  });
});
