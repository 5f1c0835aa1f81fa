/**
 * The Internet checksum (RFC 1071) of bytes in the TUN reader ring, in WebAssembly SIMD. Every
 * segment cut from a GSO read needs the TCP checksum over its whole payload (tcp-segment.ts); in
 * JavaScript that was ~340 ns per 1400-byte segment, a tenth of the gateway's CPU in a download,
 * and here it is ~75 ns. The ring is then a shared WebAssembly.Memory (its buffer is an ordinary
 * SharedArrayBuffer for the reader thread), so the payload is summed where the reader put it.
 *
 * The module, assembled from this text (wabt's wat2wasm with SIMD and threads enabled):
 *
 *   (module
 *     (import "env" "memory" (memory 1 65536 shared))
 *     (func (export "sum") (param $p i32) (param $n i32) (result i32)
 *       (local $end i32) (local $acc v128) (local $t i64)
 *       (local.set $end (i32.add (local.get $p) (local.get $n)))
 *       (block $udone (loop $u                          ;; 64 bytes per turn
 *         (br_if $udone (i32.gt_u (i32.add (local.get $p) (i32.const 64)) (local.get $end)))
 *         (local.set $acc (i32x4.add (local.get $acc) (i32x4.add
 *           (i32x4.add (i32x4.extadd_pairwise_i16x8_u (v128.load align=1 (local.get $p)))
 *                      (i32x4.extadd_pairwise_i16x8_u (v128.load offset=16 align=1 (local.get $p))))
 *           (i32x4.add (i32x4.extadd_pairwise_i16x8_u (v128.load offset=32 align=1 (local.get $p)))
 *                      (i32x4.extadd_pairwise_i16x8_u (v128.load offset=48 align=1 (local.get $p)))))))
 *         (local.set $p (i32.add (local.get $p) (i32.const 64)))
 *         (br $u)))
 *       (block $vdone (loop $v                          ;; then 16 bytes per turn
 *         (br_if $vdone (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
 *         (local.set $acc (i32x4.add (local.get $acc)
 *           (i32x4.extadd_pairwise_i16x8_u (v128.load align=1 (local.get $p)))))
 *         (local.set $p (i32.add (local.get $p) (i32.const 16)))
 *         (br $v)))
 *       (local.set $t (i64.add
 *         (i64.add (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $acc)))
 *                  (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $acc))))
 *         (i64.add (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $acc)))
 *                  (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $acc))))))
 *       (block $wdone (loop $w                          ;; then 2 bytes per turn
 *         (br_if $wdone (i32.gt_u (i32.add (local.get $p) (i32.const 2)) (local.get $end)))
 *         (local.set $t (i64.add (local.get $t) (i64.load16_u align=1 (local.get $p))))
 *         (local.set $p (i32.add (local.get $p) (i32.const 2)))
 *         (br $w)))
 *       (if (i32.lt_u (local.get $p) (local.get $end))   ;; an odd last byte
 *         (then (local.set $t (i64.add (local.get $t) (i64.load8_u (local.get $p))))))
 *       (block $fdone (loop $f                          ;; end-around carries
 *         (br_if $fdone (i64.le_u (local.get $t) (i64.const 0xffff)))
 *         (local.set $t (i64.add (i64.and (local.get $t) (i64.const 0xffff))
 *                                (i64.shr_u (local.get $t) (i64.const 16))))
 *         (br $f)))
 *       (i32.or (i32.shl (i32.and (i32.wrap_i64 (local.get $t)) (i32.const 0xff)) (i32.const 8))
 *               (i32.shr_u (i32.wrap_i64 (local.get $t)) (i32.const 8)))))
 *
 * Words are loaded in the machine's (little-endian) order, whose sum is the big-endian sum with
 * its bytes swapped (RFC 1071 §2(B)): swapped back at the end. Each i32 lane grows by at most
 * 2 × 65535 per 16 bytes, so lengths up to 512 KiB cannot overflow (the ring's entries are at
 * most 64 KiB + a header).
 */

const MODULE_BASE64 =
  'AGFzbQEAAAABBwFgAn9/AX8CEgEDZW52Bm1lbW9yeQIDAYCABAMCAQAHBwEDc3VtAAAKiAIBhQIDAX8BewF+IAAgAWohAgJAA0AgAEHAAGogAksNASADIAD9AAAA/X8gAP0AABD9f/2uASAA/QAAIP1/IAD9AAAw/X/9rgH9rgH9rgEhAyAAQcAAaiEADAALCwJAA0AgAEEQaiACSw0BIAMgAP0AAAD9f/2uASEDIABBEGohAAwACwsgA/0bAK0gA/0bAa18IAP9GwKtIAP9GwOtfHwhBAJAA0AgAEECaiACSw0BIAQgADMAAHwhBCAAQQJqIQAMAAsLIAAgAkkEQCAEIAAxAAB8IQQLAkADQCAEQv//A1gNASAEQv//A4MgBEIQiHwhBAwACwsgBKdB/wFxQQh0IASnQQh2cgs=';

/** Longest range `sum` takes (see the overflow bound above). */
export const MAX_SUM_LENGTH = 512 * 1024;

export interface ChecksumMemory {
  /** The memory, at least the bytes asked for (whole 64 KiB pages). */
  readonly buffer: SharedArrayBuffer;
  /**
   * The one's complement sum of the big-endian 16-bit words of `buffer[at, at + length)`, folded
   * to 16 bits: 1..0xffff, 0 only when all of them are 0. `length` ≤ MAX_SUM_LENGTH.
   */
  readonly sum: (at: number, length: number) => number;
}

/** The part of the WebAssembly API used here (the project's TS libs do not declare it). */
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (limits: {
    initial: number;
    maximum: number;
    shared: boolean;
  }) => { buffer: SharedArrayBuffer };
  Instance: new (
    module: object,
    imports: object,
  ) => { exports: { sum: (at: number, length: number) => number } };
}
const wasm = (globalThis as unknown as { WebAssembly?: Wasm }).WebAssembly;

let compiled: object | null | undefined;

/**
 * Shared memory of at least `bytes` bytes with the checksum over it, or undefined where this
 * runtime lacks WebAssembly SIMD or shared memory (the caller then sums in JavaScript).
 */
export function checksumMemory(bytes: number): ChecksumMemory | undefined {
  if (compiled === undefined) {
    try {
      compiled = wasm ? new wasm.Module(Buffer.from(MODULE_BASE64, 'base64')) : null;
    } catch {
      compiled = null; // no SIMD or no threads in this runtime
    }
  }
  if (compiled === null || !wasm) return undefined;
  const pages = Math.ceil(bytes / 65536);
  const memory = new wasm.Memory({ initial: pages, maximum: pages, shared: true });
  const { sum } = new wasm.Instance(compiled, { env: { memory } }).exports;
  return { buffer: memory.buffer, sum };
}
