/**
 * Node's own libcrypto through koffi: `koffi.load(null)` resolves the libcrypto symbols the node
 * binary exports (loading the system libcrypto.so.3 would mix two OpenSSL copies in one process,
 * DESIGN.md). Shared by the bindings made from it (evp.ts, evp-hmac.ts).
 */
import { createRequire } from 'node:module';

export interface Libcrypto {
  /** A C function by symbol name, with koffi's type names. */
  fn<T>(name: string, result: string, params: string[]): T;
  /** Address of the first byte of a buffer (its byteOffset included). */
  address(bytes: Uint8Array): number;
}

interface Koffi {
  load(path: string | null): {
    func(name: string, result: string, params: string[]): (...a: unknown[]) => unknown;
  };
  address(value: unknown): bigint;
}

/**
 * `bind` applied once, on first call; the loader then answers its result, or undefined (every
 * time) where koffi, a symbol or the binding's own check failed.
 */
export function libcryptoBinding<T>(bind: (lib: Libcrypto) => T): () => T | undefined {
  let loaded: T | null | undefined;
  return () => {
    if (loaded === undefined) {
      try {
        loaded = bind(open());
      } catch {
        loaded = null;
      }
    }
    return loaded ?? undefined;
  };
}

function open(): Libcrypto {
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as Koffi;
  const lib = koffi.load(null);
  return {
    fn: <T>(name: string, result: string, params: string[]) => lib.func(name, result, params) as T,
    address: (bytes: Uint8Array) => Number(koffi.address(bytes)),
  };
}
