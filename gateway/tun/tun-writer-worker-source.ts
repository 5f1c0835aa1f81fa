/**
 * Source of the worker thread that writes packets into the TUN fd. A TUN write() runs the kernel's
 * receive path for the packet (forwarding included) inside the syscall: under the tunnel benchmark
 * it was a quarter of the main thread's time, so the main thread only copies each packet into a
 * ring entry and this thread makes the syscalls. Plain JavaScript in a string, like the reader.
 *
 * The ring is a byte ring of variable-sized entries (see tun-writer-ring.ts): int32 length at an
 * 8-byte aligned offset, 4 bytes of padding, the bytes; a length of -1 means "continue at the
 * start of the ring". write(2) is given the address of the bytes: no view is made per packet.
 *
 * Sleeping without lost wake-ups: the worker sets SLEEPING, re-checks the ring, then
 * Atomics.wait()s on WRITE_POS (which returns at once if the main thread published meanwhile); the
 * main thread publishes WRITE_POS and notifies only when SLEEPING is set, so a busy tunnel costs no
 * futex call per packet.
 *
 * workerData: { koffiPath, fd, sab, dataOffset, capacity, waitTimeoutMs }
 */
export const TUN_WRITER_WORKER_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const lib = koffi.load('libc.so.6');
const write = lib.func('write', 'long', ['int', 'uintptr_t', 'size_t']);
const { fd, sab, dataOffset, capacity, waitTimeoutMs } = workerData;
const WRITE_POS = 0, READ_POS = 1, STOP = 2, WRITE_ERRORS = 3, SLEEPING = 4, WRITTEN = 5;
const EINTR = 4, ENTRY_HEADER = 8, WRAP = -1;
const control = new Int32Array(sab, 0, 8);
const words = new Int32Array(sab, dataOffset, capacity / 4);
const base = Number(koffi.address(new Uint8Array(sab, dataOffset, capacity)));
const mask = capacity - 1;
let readPos = Atomics.load(control, READ_POS);

while (Atomics.load(control, STOP) === 0) {
  const writePos = Atomics.load(control, WRITE_POS);
  if (writePos === readPos) {
    Atomics.store(control, SLEEPING, 1);
    if (Atomics.load(control, WRITE_POS) === readPos) Atomics.wait(control, WRITE_POS, readPos, waitTimeoutMs);
    Atomics.store(control, SLEEPING, 0);
    continue;
  }
  while (readPos !== writePos) {
    const offset = readPos & mask;
    const length = words[offset >> 2];
    if (length === WRAP) {
      readPos = (readPos + (capacity - offset)) | 0;
      continue;
    }
    const at = base + offset + ENTRY_HEADER;
    let n = write(fd, at, length);
    if (n < 0 && koffi.errno() === EINTR) n = write(fd, at, length);
    if (n === length) Atomics.add(control, WRITTEN, 1);
    else Atomics.add(control, WRITE_ERRORS, 1);
    readPos = (readPos + ENTRY_HEADER + ((length + 7) & ~7)) | 0;
    Atomics.store(control, READ_POS, readPos);
  }
}
`;
