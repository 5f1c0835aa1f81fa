import { describe, expect, it } from 'vitest';
import { formatHostPort, parseListenAddress } from './listen-address.js';
import { derivePublicUrl } from './public-url.js';

describe('parseListenAddress', () => {
  it.each([
    ['127.0.0.1:9090', { host: '127.0.0.1', port: 9090 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['[::]:8443', { host: '::', port: 8443 }],
    ['[fd00::1]:80', { host: 'fd00::1', port: 80 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
  ])('%s', (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it.each(['1.2.3.4', ':80', 'host:65536', '::1:80', '[nothost]:80', 'a b:80', 'host:-1', ''])(
    'rejects %j',
    (text) => {
      expect(parseListenAddress(text)).toBeUndefined();
    },
  );
});

describe('formatHostPort', () => {
  it.each([
    ['10.0.0.1', 80, '10.0.0.1:80'],
    ['fd00::1', 80, '[fd00::1]:80'],
  ])('%s %d', (host, port, expected) => expect(formatHostPort(host, port)).toBe(expected));
});

describe('derivePublicUrl', () => {
  it.each([
    ['0.0.0.0:8080', 'http://box:8080'],
    ['[::]:8080', 'http://box:8080'],
    ['10.1.2.3:80', 'http://10.1.2.3:80'],
    ['[fd00::2]:8080', 'http://[fd00::2]:8080'],
  ])('%s', (listen, expected) => expect(derivePublicUrl(listen, 'box')).toBe(expected));
});
