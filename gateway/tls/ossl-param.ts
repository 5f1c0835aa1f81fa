/**
 * OpenSSL 3 parameter arrays (OSSL_PARAM, <openssl/core.h>) built once in memory of their own and
 * handed to EVP_CIPHER_CTX_set_params/get_params by address. EVP_CIPHER_CTX_ctrl builds such an
 * array on every call and, for EVP_CTRL_AEAD_TLS1_AAD, does a set and a get: through ctrl, one
 * record's AAD, nonce or tag cost 2-3 times what the cipher's own parameter call costs.
 *
 * struct ossl_param_st { const char *key; unsigned int data_type; void *data; size_t data_size;
 * size_t return_size; }: 40 bytes on LP64 (x86-64, arm64), little-endian there; an entry with a
 * NULL key ends the array. Only octet strings are needed here.
 */
import { endianness } from 'node:os';

const ENTRY = 40;
const KEY = 0;
const TYPE = 8;
const DATA = 16;
const SIZE = 24;
/** OSSL_PARAM_OCTET_STRING, <openssl/core.h>. */
const OCTET_STRING = 5;
const LITTLE = endianness() === 'LE';
const TWO_32 = 2 ** 32;

/** Names from <openssl/core_names.h>. */
export const ParamKey = {
  /** OSSL_CIPHER_PARAM_AEAD_TAG: the tag to check (set, before final) or the tag made (get). */
  tag: 'tag',
  /** OSSL_CIPHER_PARAM_AEAD_TLS1_AAD: the 13-byte TLS 1.2 AAD (OpenSSL's TLS record mode). */
  tlsAad: 'tlsaad',
  /** OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED: with size SIZE_MAX, GCM takes the whole 12-byte nonce. */
  tlsIvFixed: 'tlsivfixed',
} as const;
export type ParamKey = (typeof ParamKey)[keyof typeof ParamKey];

/**
 * One OSSL_PARAM array of octet-string entries whose data pointers and sizes can be changed per
 * call (synchronous calls only: OpenSSL does not keep the array).
 */
export class OctetParams {
  readonly address: number;
  /** Bytes at `address`: the entries, the end entry, the key names. */
  readonly byteLength: number;
  private readonly view: DataView;
  /** Keeps the memory (entries, then the NUL-terminated key names) alive. */
  private readonly bytes: Buffer;

  constructor(addressOf: (bytes: Uint8Array) => number, keys: readonly ParamKey[]) {
    const names = keys.map((k) => Buffer.from(`${k}\0`, 'latin1'));
    const entries = (keys.length + 1) * ENTRY;
    // Not from Node's shared slab: the addresses must stay this buffer's alone.
    this.bytes = Buffer.allocUnsafeSlow(entries + names.reduce((n, b) => n + b.length, 0));
    this.bytes.fill(0, 0, entries);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.address = addressOf(this.bytes);
    this.byteLength = this.bytes.length;
    let at = entries;
    for (const [i, name] of names.entries()) {
      name.copy(this.bytes, at);
      this.word64(i * ENTRY + KEY, this.address + at);
      this.view.setUint32(i * ENTRY + TYPE, OCTET_STRING, LITTLE);
      at += name.length;
    }
  }

  /**
   * Points entry `index` at `size` bytes at address `data`; size -1 stands for SIZE_MAX (the
   * "whole IV" of tlsivfixed).
   */
  set(index: number, data: number, size: number): void {
    const at = index * ENTRY;
    this.word64(at + DATA, data);
    if (size < 0) {
      this.view.setUint32(at + SIZE, 0xffffffff, LITTLE);
      this.view.setUint32(at + SIZE + 4, 0xffffffff, LITTLE);
    } else this.word64(at + SIZE, size);
  }

  /** A non-negative integer below 2^53 as a native 64-bit word. */
  private word64(at: number, value: number): void {
    const high = Math.floor(value / TWO_32);
    const low = value >>> 0;
    this.view.setUint32(at + (LITTLE ? 0 : 4), low, LITTLE);
    this.view.setUint32(at + (LITTLE ? 4 : 0), high, LITTLE);
  }
}
