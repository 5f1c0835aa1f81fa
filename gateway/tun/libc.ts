/**
 * The few libc calls the TUN device needs, bound with koffi once per thread. koffi is loaded lazily
 * so that importing the gateway (and using MemoryTunDevice) works where koffi is absent.
 */
import { createRequire } from 'node:module';

export interface Libc {
  ioctl(fd: number, request: number, ifreq: Buffer): number;
  /** ioctl whose argument is a value, not a pointer (TUNSETOFFLOAD). */
  ioctlValue(fd: number, request: number, value: number): number;
  /** errno of the last failed call on this thread. */
  errno(): number;
  /**
   * memcpy between raw addresses. Copies into or out of a SharedArrayBuffer go through here:
   * V8 copies SAB memory with relaxed atomics (TypedArray#set and Buffer#copy alike), about
   * 1.3 µs per 1400-byte packet against 0.1 µs for memcpy, 10% of the gateway's CPU under load.
   */
  memcpy(to: number, from: number, length: number): void;
  /** Address of the first byte of a buffer (its byteOffset included). */
  address(bytes: Uint8Array): number;
}

/** Linux x86-64/arm64 values from <linux/if_tun.h> and <errno.h>. */
export const TUNSETIFF = 0x400454ca;
export const IFF_TUN = 0x0001;
export const IFF_NO_PI = 0x1000;
export const IFF_VNET_HDR = 0x4000;
/** _IOW('T', 208, unsigned int) and its flags, <linux/if_tun.h>. */
export const TUNSETOFFLOAD = 0x400454d0;
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
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
    load(path: string): {
      func(signature: string): (...args: unknown[]) => number;
      func(name: string, result: string, params: string[]): (...args: unknown[]) => number;
    };
    errno(): number;
    address(value: unknown): bigint;
  };
  const lib = koffi.load('libc.so.6');
  const ioctl = lib.func('int ioctl(int fd, unsigned long request, uint8_t *argp)');
  const ioctlValue = lib.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']);
  // Declared void: the returned pointer would cost a number conversion per call (~13 ns of ~60).
  const memcpy = lib.func('memcpy', 'void', ['uintptr_t', 'uintptr_t', 'size_t']);
  bound = {
    ioctl: (fd, request, ifreq) => ioctl(fd, request, ifreq),
    ioctlValue: (fd, request, value) => ioctlValue(fd, request, value),
    errno: () => koffi.errno(),
    memcpy: (to, from, length) => void memcpy(to, from, length),
    address: (bytes) => Number(koffi.address(bytes)),
  };
  return bound;
}
