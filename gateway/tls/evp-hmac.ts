/**
 * HMAC through Node's own libcrypto (koffi, as evp.ts), one HMAC_CTX per hash kept and re-keyed
 * per call, with the digest fetched once (EVP_MD_fetch). node:crypto's createHmac builds an Hmac
 * object (a stream, a native handle, a key preparation) and OpenSSL fetches the digest again for
 * each of its contexts: ~2 us per HMAC in a loop, ~8 us per HMAC in gateway A's profile of
 * bench:sessions --site, where the TLS 1.3 key schedule runs four of them per resume and eight per
 * login (issue 16). This costs ~0.6 us. The context is reset (OpenSSL cleanses it) after each
 * call, so that no keyed state outlives the call.
 *
 * HMAC_CTX is OpenSSL 3.0's deprecated-but-present API, the one Node 20's own Hmac uses, so the
 * node binary exports it; where it or koffi is missing, loadHmac answers undefined and the
 * caller uses node:crypto.
 */
import { type Libcrypto, libcryptoBinding } from './libcrypto.js';

export type HmacHash = 'sha256' | 'sha384';

/** HMAC(key, data) with `hash`, in a Buffer of its own. Synchronous; not reentrant across threads. */
export type Hmac = (hash: HmacHash, key: Uint8Array, data: Uint8Array) => Buffer;

/** The libcrypto HMAC, or undefined where koffi or the symbols are missing. */
export const loadHmac: () => Hmac | undefined = libcryptoBinding(bind);

const digestNames: Record<HmacHash, { name: string; size: number }> = {
  sha256: { name: 'SHA256', size: 32 },
  sha384: { name: 'SHA384', size: 48 },
};

function bind(lib: Libcrypto): Hmac {
  const p = 'uintptr_t';
  const fn = lib.fn;
  const mdFetch = fn<(libctx: number, name: string, props: number) => bigint>('EVP_MD_fetch', 'void *', [
    p,
    'str',
    p,
  ]);
  const ctxNew = fn<() => bigint>('HMAC_CTX_new', 'void *', []);
  const ctxReset = fn<(ctx: number) => number>('HMAC_CTX_reset', 'int', [p]);
  const init = fn<(ctx: number, key: number, keyLength: number, md: number, engine: number) => number>(
    'HMAC_Init_ex',
    'int',
    [p, p, 'int', p, p],
  );
  const update = fn<(ctx: number, data: number, length: number) => number>('HMAC_Update', 'int', [
    p,
    p,
    'size_t',
  ]);
  const final = fn<(ctx: number, out: number, outLength: number) => number>('HMAC_Final', 'int', [p, p, p]);
  const address = lib.address;
  const contexts = new Map<HmacHash, { ctx: number; md: number; size: number }>();
  const context = (hash: HmacHash) => {
    let c = contexts.get(hash);
    if (!c) {
      const { name, size } = digestNames[hash];
      const md = Number(mdFetch(0, name, 0));
      const ctx = Number(ctxNew());
      if (md === 0 || ctx === 0) throw new Error(`HMAC ${name}: no digest or context`);
      c = { ctx, md, size };
      contexts.set(hash, c);
    }
    return c;
  };
  // Fail here, not at the first handshake, when the symbols resolve but do not work.
  context('sha256');
  const hmac: Hmac = (hash, key, data) => {
    const { ctx, md, size } = context(hash);
    const out = Buffer.allocUnsafe(size);
    // A zero-length key or data has no address to give: any valid one will do, none is read.
    const ok =
      init(ctx, address(key.length > 0 ? key : out), key.length, md, 0) === 1 &&
      update(ctx, address(data.length > 0 ? data : out), data.length) === 1 &&
      final(ctx, address(out), 0) === 1;
    ctxReset(ctx);
    if (!ok) throw new Error(`HMAC ${hash} failed`);
    return out;
  };
  return hmac;
}
