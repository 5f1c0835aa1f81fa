/**
 * The AEAD primitives of Node's own OpenSSL, called through koffi (`koffi.load(null)` resolves
 * the libcrypto symbols the node binary exports; loading the system libcrypto.so.3 would mix two
 * OpenSSL copies in one process, DESIGN.md). node:crypto's createCipheriv costs 12-15 µs per
 * record because it builds a cipher object each time; one EVP_CIPHER_CTX per direction, keyed
 * once, with only the nonce changed per record, costs about the AES itself plus two to five FFI
 * calls.
 *
 * Pointers cross the FFI as plain numbers (user-space addresses fit in 2^53): the hot path passes
 * `base + offset` instead of building a Buffer view per call. Buffers handed over that way must
 * stay referenced for the duration of the call, which synchronous calls guarantee.
 */
import type { Aead } from './cipher-suites.js';
import { type Libcrypto, libcryptoBinding } from './libcrypto.js';

/** From <openssl/evp.h>. */
export const EvpCtrl = {
  getTag: 0x10,
  setTag: 0x11,
  setIvFixed: 0x12,
  tls1Aad: 0x16,
} as const;

export interface Evp {
  /** Keys a fresh context for one direction; the nonce is set per record (or via setIvFixed). */
  newContext(aead: Aead, key: Buffer, encrypt: boolean): number;
  freeContext(ctx: number): void;
  /** EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, enc): a new nonce, same key. */
  setIv(ctx: number, iv: number, encrypt: boolean): number;
  ctrl(ctx: number, type: number, arg: number, ptr: number): number;
  /** EVP_Cipher: one whole TLS 1.2 record in the TLS-AAD mode (see record-protection.ts). */
  cipher(ctx: number, out: number, input: number, length: number): number;
  update(ctx: number, out: number, outLength: number, input: number, length: number): number;
  final(ctx: number, out: number, outLength: number): number;
  /**
   * EVP_CIPHER_CTX_set_params / get_params with an OSSL_PARAM array built once (ossl-param.ts):
   * the per-record nonce, TLS AAD and tag without the array ctrl builds on every call.
   */
  setParams(ctx: number, params: number): number;
  getParams(ctx: number, params: number): number;
  /** Address of the first byte of a buffer (its byteOffset included). */
  address(bytes: Uint8Array): number;
  /**
   * memcpy between addresses: V8 copies out of SharedArrayBuffers (the TUN rings) with relaxed
   * atomics, ten times slower than memcpy.
   */
  copy(to: number, from: number, length: number): void;
}

/** Node's libcrypto through koffi, or undefined where koffi or the symbols are missing. */
export const loadEvp: () => Evp | undefined = libcryptoBinding(bind);

function bind(lib: Libcrypto): Evp {
  const p = 'uintptr_t';
  const fn = lib.fn;
  const ctxNew = fn<() => bigint>('EVP_CIPHER_CTX_new', 'void *', []);
  const ctxFree = fn<(ctx: number) => void>('EVP_CIPHER_CTX_free', 'void', [p]);
  const ciphers: Record<Aead, () => bigint> = {
    'aes-128-gcm': fn('EVP_aes_128_gcm', 'void *', []),
    'aes-256-gcm': fn('EVP_aes_256_gcm', 'void *', []),
    'chacha20-poly1305': fn('EVP_chacha20_poly1305', 'void *', []),
  };
  const init = fn<
    (ctx: number, cipher: number, engine: number, key: number, iv: number, enc: number) => number
  >('EVP_CipherInit_ex', 'int', [p, p, p, p, p, 'int']);
  const ctrl = fn<(ctx: number, type: number, arg: number, ptr: number) => number>(
    'EVP_CIPHER_CTX_ctrl',
    'int',
    [p, 'int', 'int', p],
  );
  const cipher = fn<(ctx: number, out: number, input: number, length: number) => number>(
    'EVP_Cipher',
    'int',
    [p, p, p, 'unsigned int'],
  );
  const update = fn<(ctx: number, out: number, outl: number, input: number, length: number) => number>(
    'EVP_CipherUpdate',
    'int',
    [p, p, p, p, 'int'],
  );
  const final = fn<(ctx: number, out: number, outl: number) => number>('EVP_CipherFinal_ex', 'int', [
    p,
    p,
    p,
  ]);
  const setParams = fn<(ctx: number, params: number) => number>('EVP_CIPHER_CTX_set_params', 'int', [p, p]);
  const getParams = fn<(ctx: number, params: number) => number>('EVP_CIPHER_CTX_get_params', 'int', [p, p]);
  const address = lib.address;
  // void, not the pointer memcpy returns: no result conversion on the hot path (see libc.ts).
  const memcpy = fn<(to: number, from: number, length: number) => void>('memcpy', 'void', [p, p, 'size_t']);
  return {
    newContext(aead, key, encrypt) {
      const ctx = Number(ctxNew());
      if (ctx === 0) throw new Error('EVP_CIPHER_CTX_new failed');
      if (init(ctx, Number(ciphers[aead]()), 0, address(key), 0, encrypt ? 1 : 0) !== 1) {
        ctxFree(ctx);
        throw new Error(`EVP_CipherInit_ex(${aead}) failed`);
      }
      return ctx;
    },
    freeContext: (ctx) => ctxFree(ctx),
    setIv: (ctx, iv, encrypt) => init(ctx, 0, 0, 0, iv, encrypt ? 1 : 0),
    ctrl,
    cipher,
    update,
    final,
    setParams,
    getParams,
    address,
    copy: (to, from, length) => void memcpy(to, from, length),
  };
}
