import { describe, expect, it } from 'vitest';
import { DecodeError } from '../core/errors.js';
import { bytesToIp, ipToBytes } from './ip.js';

describe('ip', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1', 4],
    ['2001:db8::1', '2001:db8::1', 16],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1', 16],
    ['::', '::', 16],
    ['::1', '::1', 16],
    ['fe80::', 'fe80::', 16],
    ['::ffff:192.0.2.1', '::ffff:c000:201', 16],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8', 16],
    ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8', 16],
  ])('%s ⇄ %s', (text, canonical, len) => {
    const bytes = ipToBytes(text);
    expect(bytes.length).toBe(len);
    expect(bytesToIp(bytes)).toBe(canonical);
  });

  it('rejects junk', () => {
    expect(() => ipToBytes('example.com')).toThrow(DecodeError);
    expect(() => bytesToIp(Buffer.alloc(5))).toThrow(DecodeError);
  });
});
