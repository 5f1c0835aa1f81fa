/**
 * The few libc calls the TUN device needs, bound with koffi once per thread. koffi is loaded lazily
 * so that importing the gateway (and using MemoryTunDevice) works where koffi is absent.
 */
import { createRequire } from 'node:module';

export interface Libc {
  ioctl(fd: number, request: number, ifreq: Buffer): number;
  /** errno of the last failed call on this thread. */
  errno(): number;
}

/** Linux x86-64/arm64 values from <linux/if_tun.h> and <errno.h>. */
export const TUNSETIFF = 0x400454ca;
export const IFF_TUN = 0x0001;
export const IFF_NO_PI = 0x1000;
export const IFNAMSIZ = 16;
export const EAGAIN = 11;
export const EINTR = 4;

const require = createRequire(import.meta.url);

/** Absolute path of the koffi package, for the reader worker to load the same copy. */
export function koffiPath(): string {
  return require.resolve('koffi');
}

let bound: Libc | undefined;

export function libc(): Libc {
  if (bound) return bound;
  // koffi's typings are CommonJS; only the calls used here are described.
  const koffi = require('koffi') as {
    load(path: string): { func(signature: string): (...args: unknown[]) => number };
    errno(): number;
  };
  const lib = koffi.load('libc.so.6');
  const ioctl = lib.func('int ioctl(int fd, unsigned long request, uint8_t *argp)');
  bound = {
    ioctl: (fd, request, ifreq) => ioctl(fd, request, ifreq),
    errno: () => koffi.errno(),
  };
  return bound;
}
