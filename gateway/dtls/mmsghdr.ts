import { createRequire } from 'node:module';

/**
 * What mmsg-sender.ts and mmsg-receiver.ts share: struct mmsghdr in memory and the koffi binding
 * of libc. Linux LP64 layouts (<sys/socket.h>, <bits/uio.h>): struct mmsghdr is 64 bytes
 * (msg_name 0, msg_namelen 8, msg_iov 16, msg_iovlen 24, msg_control 32, msg_controllen 40,
 * msg_flags 48, msg_len 56), struct iovec 16 (base, length).
 */
export const MMSGHDR = 64;
export const IOVEC = 16;
export const MSG_DONTWAIT = 0x40;
export const AF_INET = 2;
export const AF_INET6 = 10;

export interface Koffi {
  load(path: string): { func(name: string, result: string, params: string[]): (...a: unknown[]) => number };
  address(value: unknown): bigint;
  errno(): number;
}

/**
 * koffi and libc where the layouts above hold (Linux x64/arm64), else undefined (the callers
 * fall back on node:dgram).
 */
export function libcForMmsg(): { koffi: Koffi; lib: ReturnType<Koffi['load']> } | undefined {
  if (process.platform !== 'linux' || !(process.arch === 'x64' || process.arch === 'arm64')) return undefined;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as Koffi;
    return { koffi, lib: koffi.load('libc.so.6') };
  } catch {
    return undefined;
  }
}

const TWO_32 = 2 ** 32;

/** Writes a 64-bit pointer or size (little-endian) at `at`. */
export function writePointer(target: Buffer, at: number, value: number): void {
  target.writeUInt32LE(value % TWO_32, at);
  target.writeUInt32LE(Math.floor(value / TWO_32), at + 4);
}
