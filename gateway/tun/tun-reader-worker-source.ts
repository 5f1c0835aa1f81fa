/**
 * Source of the worker thread that reads the TUN fd. It is plain JavaScript in a string (run with
 * `eval: true`) rather than a .ts module so that it starts the same way from the sources under
 * vitest and from dist/, with no loader or build step involved.
 *
 * The loop: non-blocking read() straight into the next ring entry (packet-ring.ts: room for the
 * largest read is reserved first, wrapping to the start of the ring when the tail is too short)
 * until EAGAIN (or a burst limit), publish WRITE_POS and wake the main thread (Atomics.notify),
 * then poll() the fd. The poll timeout bounds how long close() waits for the STOP flag. When the
 * ring is full the packet is still read (so the kernel queue keeps moving) into a scratch buffer
 * and counted as dropped. A read of `maxRead` bytes or more was truncated: an error.
 *
 * workerData: { koffiPath, fd, sab, dataOffset, capacity, maxRead, minRead, maxBurst, pollTimeoutMs }
 */
export const TUN_READER_WORKER_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const lib = koffi.load('libc.so.6');
const read = lib.func('read', 'long', ['int', 'uintptr_t', 'size_t']);
const poll = lib.func('int poll(uint8_t *fds, unsigned long nfds, int timeout)');
const { fd, sab, dataOffset, capacity, maxRead, minRead, maxBurst, pollTimeoutMs } = workerData;
const WRITE_POS = 0, READ_POS = 1, STOP = 2, DROPPED_FULL = 3, READ_ERRORS = 4, FATAL_ERRNO = 5;
const EAGAIN = 11, EINTR = 4, POLLIN = 1, ENTRY_HEADER = 8, WRAP = -1;
const control = new Int32Array(sab, 0, 8);
const words = new Int32Array(sab, dataOffset, capacity / 4);
const base = Number(koffi.address(new Uint8Array(sab, dataOffset, capacity)));
const scratch = new Uint8Array(maxRead + 8);
const scratchAddress = Number(koffi.address(scratch));
const need = ENTRY_HEADER + ((maxRead + 7) & ~7);
const mask = capacity - 1;
const pollfd = new Uint8Array(8);
new DataView(pollfd.buffer).setInt32(0, fd, true);
new DataView(pollfd.buffer).setInt16(4, POLLIN, true);
let writePos = Atomics.load(control, WRITE_POS);

function fatal(errno) {
  Atomics.store(control, FATAL_ERRNO, errno || -1);
  Atomics.notify(control, WRITE_POS);
}

outer: while (Atomics.load(control, STOP) === 0) {
  let published = 0;
  let empty = false;
  // Drops count towards the burst too, so STOP is seen even while the ring stays full.
  for (let i = 0; i < maxBurst; i++) {
    const used = (writePos - Atomics.load(control, READ_POS)) | 0;
    const tail = capacity - (writePos & mask);
    let start = writePos;
    let full = false;
    if (need > tail) {
      if (used + tail + need > capacity) full = true;
      else {
        words[(writePos & mask) >> 2] = WRAP;
        start = (writePos + tail) | 0;
      }
    } else if (used + need > capacity) full = true;
    const at = full ? scratchAddress : base + (start & mask) + ENTRY_HEADER;
    const n = read(fd, at, maxRead);
    if (n < 0) {
      const errno = koffi.errno();
      if (errno === EAGAIN) { empty = true; break; }
      if (errno === EINTR) continue;
      fatal(errno);
      break outer;
    }
    if (n === 0) continue;
    if (full) { Atomics.add(control, DROPPED_FULL, 1); continue; }
    if (n >= maxRead || n <= minRead) { Atomics.add(control, READ_ERRORS, 1); continue; }
    words[(start & mask) >> 2] = n;
    writePos = (start + ENTRY_HEADER + ((n + 7) & ~7)) | 0;
    // Published per packet (a plain store is cheap); the wake-up below is once per burst.
    Atomics.store(control, WRITE_POS, writePos);
    published++;
  }
  if (published > 0) Atomics.notify(control, WRITE_POS);
  if (empty) {
    const rc = poll(pollfd, 1, pollTimeoutMs);
    if (rc < 0 && koffi.errno() !== EINTR) { fatal(koffi.errno()); break; }
  }
}
`;
