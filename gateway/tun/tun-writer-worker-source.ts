/**
 * Source of the worker thread that writes packets into the TUN fd. A TUN write() runs the kernel's
 * receive path for the packet (forwarding included) inside the syscall: under the tunnel benchmark
 * it was a quarter of the main thread's time, so the main thread only copies each packet into a
 * ring slot and this thread makes the syscalls. Plain JavaScript in a string, like the reader.
 *
 * Sleeping without lost wake-ups: the worker sets SLEEPING, re-checks the ring, then
 * Atomics.wait()s on WRITE_SEQ (which returns at once if the main thread published meanwhile); the
 * main thread publishes WRITE_SEQ and notifies only when SLEEPING is set, so a busy tunnel costs no
 * futex call per packet.
 *
 * workerData: { koffiPath, fd, sab, slots, slotSize, lengthsOffset, dataOffset, waitTimeoutMs }
 */
export const TUN_WRITER_WORKER_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const lib = koffi.load('libc.so.6');
const write = lib.func('long write(int fd, const uint8_t *buf, size_t count)');
const { fd, sab, slots, slotSize, lengthsOffset, dataOffset, waitTimeoutMs } = workerData;
const WRITE_SEQ = 0, READ_SEQ = 1, STOP = 2, WRITE_ERRORS = 3, SLEEPING = 4, WRITTEN = 5;
const EINTR = 4;
const control = new Int32Array(sab, 0, 8);
const lengths = new Int32Array(sab, lengthsOffset, slots);
const slotViews = [];
for (let i = 0; i < slots; i++) slotViews.push(new Uint8Array(sab, dataOffset + i * slotSize, slotSize));
const mask = slots - 1;
let readSeq = Atomics.load(control, READ_SEQ);

while (Atomics.load(control, STOP) === 0) {
  const writeSeq = Atomics.load(control, WRITE_SEQ);
  if (writeSeq === readSeq) {
    Atomics.store(control, SLEEPING, 1);
    if (Atomics.load(control, WRITE_SEQ) === readSeq) Atomics.wait(control, WRITE_SEQ, readSeq, waitTimeoutMs);
    Atomics.store(control, SLEEPING, 0);
    continue;
  }
  while (readSeq !== writeSeq) {
    const slot = readSeq & mask;
    const length = lengths[slot];
    let n = write(fd, slotViews[slot], length);
    if (n < 0 && koffi.errno() === EINTR) n = write(fd, slotViews[slot], length);
    if (n === length) Atomics.add(control, WRITTEN, 1);
    else Atomics.add(control, WRITE_ERRORS, 1);
    readSeq = (readSeq + 1) | 0;
    Atomics.store(control, READ_SEQ, readSeq);
  }
}
`;
