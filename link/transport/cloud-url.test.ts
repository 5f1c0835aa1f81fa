import { describe, expect, it } from 'vitest';
import { enrollUrl, hostPort, linkUrl } from './cloud-url.js';

describe('cloud URLs', () => {
  it.each([
    [
      'https://cloud.example:7443',
      'wss://cloud.example:7443/v1/link',
      'https://cloud.example:7443/v1/enroll',
    ],
    [
      'https://cloud.example:7443/',
      'wss://cloud.example:7443/v1/link',
      'https://cloud.example:7443/v1/enroll',
    ],
    [
      'https://cloud.example/tenant-a/',
      'wss://cloud.example/tenant-a/v1/link',
      'https://cloud.example/tenant-a/v1/enroll',
    ],
    [
      'wss://cloud.example:7443/v1/link',
      'wss://cloud.example:7443/v1/link',
      'https://cloud.example:7443/v1/enroll',
    ],
    [
      'https://cloud.example/v1/enroll?x=1#y',
      'wss://cloud.example/v1/link',
      'https://cloud.example/v1/enroll',
    ],
    ['https://[::1]:7443', 'wss://[::1]:7443/v1/link', 'https://[::1]:7443/v1/enroll'],
  ])('%s → %s and %s', (base, link, enroll) => {
    expect(linkUrl(base).href).toBe(link);
    expect(enrollUrl(base).href).toBe(enroll);
  });

  it.each(['http://cloud.example', 'ftp://x', 'not a url'])('refuses %s as a config error', (base) => {
    expect(() => linkUrl(base)).toThrow(expect.objectContaining({ code: 'OUTPOST_ERR_CONFIG' }));
  });

  it.each([
    ['wss://cloud.example/v1/link', { host: 'cloud.example', port: 443 }],
    ['wss://cloud.example:7443/v1/link', { host: 'cloud.example', port: 7443 }],
    ['wss://[::1]:7443/v1/link', { host: '::1', port: 7443 }],
  ])('CONNECT target of %s', (url, expected) => {
    expect(hostPort(new URL(url))).toEqual(expected);
  });
});
