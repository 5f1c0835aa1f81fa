/**
 * Source of the worker thread that reads the TUN fd. It is plain JavaScript in a string (run with
 * `eval: true`) rather than a .ts module so that it starts the same way from the sources under
 * vitest and from dist/, with no loader or build step involved.
 *
 * The loop: non-blocking read() straight into the next free ring slot until EAGAIN (or a burst
 * limit), publish WRITE_SEQ and wake the main thread (Atomics.notify), then poll() the fd. The poll
 * timeout bounds how long close() waits for the STOP flag. When the ring is full the packet is still
 * read (so the kernel queue keeps moving) into a scratch buffer and counted as dropped.
 *
 * With `header` > 0 (a TUN opened with IFF_VNET_HDR) every read starts with a virtio-net header;
 * a packet the kernel hands over as GSO (never, unless offloads were enabled) counts as an error.
 *
 * workerData: { koffiPath, fd, sab, slots, slotSize, lengthsOffset, dataOffset, mtu, header, maxBurst, pollTimeoutMs }
 */
export const TUN_READER_WORKER_SOURCE = `
'use strict';
const { workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const lib = koffi.load('libc.so.6');
const read = lib.func('long read(int fd, uint8_t *buf, size_t count)');
const poll = lib.func('int poll(uint8_t *fds, unsigned long nfds, int timeout)');
const { fd, sab, slots, slotSize, lengthsOffset, dataOffset, mtu, header, maxBurst, pollTimeoutMs } = workerData;
const WRITE_SEQ = 0, READ_SEQ = 1, STOP = 2, DROPPED_FULL = 3, READ_ERRORS = 4, FATAL_ERRNO = 5;
const EAGAIN = 11, EINTR = 4, POLLIN = 1;
const control = new Int32Array(sab, 0, 8);
const lengths = new Int32Array(sab, lengthsOffset, slots);
const slotViews = [];
for (let i = 0; i < slots; i++) slotViews.push(new Uint8Array(sab, dataOffset + i * slotSize, slotSize));
const scratch = new Uint8Array(slotSize);
const pollfd = new Uint8Array(8);
new DataView(pollfd.buffer).setInt32(0, fd, true);
new DataView(pollfd.buffer).setInt16(4, POLLIN, true);
const mask = slots - 1;
let writeSeq = Atomics.load(control, WRITE_SEQ);

function fatal(errno) {
  Atomics.store(control, FATAL_ERRNO, errno || -1);
  Atomics.notify(control, WRITE_SEQ);
}

outer: while (Atomics.load(control, STOP) === 0) {
  let published = 0;
  let empty = false;
  // Drops count towards the burst too, so STOP is seen even while the ring stays full.
  for (let i = 0; i < maxBurst; i++) {
    const full = ((writeSeq - Atomics.load(control, READ_SEQ)) | 0) >= slots;
    const slot = writeSeq & mask;
    const n = full ? read(fd, scratch, slotSize) : read(fd, slotViews[slot], slotSize);
    if (n < 0) {
      const errno = koffi.errno();
      if (errno === EAGAIN) { empty = true; break; }
      if (errno === EINTR) continue;
      fatal(errno);
      break outer;
    }
    if (n === 0) continue;
    if (full) { Atomics.add(control, DROPPED_FULL, 1); continue; }
    if (n > mtu + header || n <= header || (header > 0 && slotViews[slot][1] !== 0)) {
      Atomics.add(control, READ_ERRORS, 1);
      continue;
    }
    lengths[slot] = n;
    writeSeq = (writeSeq + 1) | 0;
    // Published per packet (a plain store is cheap); the wake-up below is once per burst.
    Atomics.store(control, WRITE_SEQ, writeSeq);
    published++;
  }
  if (published > 0) Atomics.notify(control, WRITE_SEQ);
  if (empty) {
    const rc = poll(pollfd, 1, pollTimeoutMs);
    if (rc < 0 && koffi.errno() !== EINTR) { fatal(koffi.errno()); break; }
  }
}
`;
