import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes `data` to `file` so that a reader (or a crash) sees either the old content or the new,
 * never a torn file: temp file in the same directory, fsync, rename, fsync of the directory.
 * `mode` applies from creation, so a key is never readable by others even for a moment.
 */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): void {
  const temp = `${file}.tmp-${process.pid}`;
  writeDurable(temp, data, mode);
  renameDurable(temp, file);
}

/** Creates (or truncates) `file` with `mode` and fsyncs it. */
export function writeDurable(file: string, data: string | Buffer, mode: number): void {
  const fd = openSync(file, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(file, { force: true });
    throw e;
  }
  closeSync(fd);
}

/** rename(2), then fsync of the directory so the new name survives a power cut. */
export function renameDurable(from: string, to: string): void {
  renameSync(from, to);
  const dir = openSync(dirname(to), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
