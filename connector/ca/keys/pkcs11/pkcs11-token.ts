import { createHash, timingSafeEqual } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { ErrorCodes, OutpostError } from '../../../../core/errors.js';

export interface TokenOptions {
  /** Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so). */
  module: string;
  /** CKA label of the token (PKCS#11 v2.40 §3.2 CK_TOKEN_INFO.label), trailing blanks ignored. */
  tokenLabel: string;
  /** The user PIN. */
  pin: string;
}

type Lib = InstanceType<typeof pkcs11js.PKCS11>;

/** The PKCS#11 return value name (CKR_…) of an error thrown by pkcs11js, if it is one. */
export function ckrName(e: unknown): string | undefined {
  const message = e instanceof Error ? e.message : '';
  return /^CKR_[A-Z_]+/.exec(message)?.[0];
}

function keyStoreError(message: string, cause?: unknown): OutpostError {
  const ckr = ckrName(cause);
  return new OutpostError(ErrorCodes.keyStore, ckr ? `${message} (${ckr})` : message, { cause });
}

/**
 * A module is initialized once per process (a second C_Initialize answers
 * CKR_CRYPTOKI_ALREADY_INITIALIZED) and login state belongs to the application, not to a session
 * (PKCS#11 v2.40 §5.6, C_Login). So each process keeps one module per path and one logged-in
 * session per token, shared by reference count: a reconfiguration that opens a second connector
 * core, or a CLI verb that opens the CA twice, reuses them.
 */
const modules = new Map<string, { lib: Lib; users: number }>();
const tokens = new Map<string, Pkcs11Token>();

function loadModule(path: string): Lib {
  const known = modules.get(path);
  if (known) {
    known.users++;
    return known.lib;
  }
  const lib = new pkcs11js.PKCS11();
  try {
    lib.load(path);
  } catch (cause) {
    // dlopen's message names the problem: no such file, not a shared object, no C_GetFunctionList
    const reason = cause instanceof Error ? cause.message.replace(`${path}: `, '') : String(cause);
    throw keyStoreError(`cannot load the PKCS#11 module ${path} (keys.pkcs11.module): ${reason}`, cause);
  }
  try {
    lib.C_Initialize();
  } catch (cause) {
    if (ckrName(cause) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
      throw keyStoreError(`the PKCS#11 module ${path} failed to initialize`, cause);
    }
  }
  modules.set(path, { lib, users: 1 });
  return lib;
}

function releaseModule(path: string): void {
  const entry = modules.get(path);
  if (!entry || --entry.users > 0) return;
  modules.delete(path);
  try {
    entry.lib.C_Finalize();
  } catch {
    // finalizing a module that is going away anyway: nothing to report
  }
}

/**
 * One logged-in read-write session on the token labelled `tokenLabel`. Node runs JavaScript on
 * one thread and every call here is synchronous, so the operations of one session never
 * interleave (a C_SignInit is always followed by its C_Sign before anything else runs).
 */
export class Pkcs11Token {
  private users = 1;

  private constructor(
    private readonly key: string,
    readonly options: TokenOptions,
    readonly lib: Lib,
    readonly slot: Buffer,
    private current: Buffer,
  ) {}

  /** Private-key handles by CKA_ID (hex); a token may renumber objects once all sessions closed. */
  private readonly privateKeys = new Map<string, Buffer>();

  /** Remembers the handle a key got when it was generated or imported. */
  rememberPrivateKey(id: Buffer, handle: Buffer): void {
    this.privateKeys.set(id.toString('hex'), handle);
  }

  forgetPrivateKey(id: Buffer): void {
    this.privateKeys.delete(id.toString('hex'));
  }

  /** The handle of the private key with this CKA_ID, found again after a session was recovered. */
  privateKey(id: Buffer): Buffer {
    const known = this.privateKeys.get(id.toString('hex'));
    if (known) return known;
    const { lib } = this;
    lib.C_FindObjectsInit(this.current, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_ID, value: id },
    ]);
    let found: Buffer[];
    try {
      found = lib.C_FindObjects(this.current, 1);
    } finally {
      lib.C_FindObjectsFinal(this.current);
    }
    if (!found[0]) throw keyStoreError(`the token no longer holds the key ${id.toString('hex')}`);
    this.rememberPrivateKey(id, found[0]);
    return found[0];
  }

  /** The logged-in session (a new one after `withSession` recovered from a lost one). */
  get session(): Buffer {
    return this.current;
  }

  /**
   * Runs a private-key operation on the session. When the token says the session or the login is
   * gone (a network HSM reconnected, the token was reset), it opens a new session, logs in again
   * and runs the operation once more: token objects outlive sessions, so the keys are where they
   * were (their handles are looked up again by CKA_ID: `privateKey`). Any other error is the
   * operation's.
   */
  withSession<T>(operation: (lib: Lib, session: Buffer) => T): T {
    try {
      return operation(this.lib, this.current);
    } catch (e) {
      if (!SESSION_LOST.has(ckrName(e) ?? '')) throw e;
    }
    closeQuietly(this.lib, this.current);
    this.privateKeys.clear(); // SoftHSM, for one, renumbers objects once every session is closed
    this.current = this.lib.C_OpenSession(this.slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    login(this.lib, this.current, this.options);
    return operation(this.lib, this.current);
  }

  /** Opens (or shares) the token; every failure is OUTPOST_ERR_KEY_STORE with a message saying what to fix. */
  static open(options: TokenOptions): Pkcs11Token {
    const key = `${options.module}\0${options.tokenLabel}`;
    const shared = tokens.get(key);
    if (shared) {
      // Already logged in (login belongs to the process), so the token would not check this PIN
      // again: compare it with the one it accepted, and refuse another as the token would.
      if (!samePin(shared.options.pin, options.pin)) throw wrongPin(options.tokenLabel);
      shared.users++;
      return shared;
    }
    const lib = loadModule(options.module);
    let session: Buffer | undefined;
    try {
      const slot = findSlot(lib, options);
      session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      login(lib, session, options);
      const token = new Pkcs11Token(key, options, lib, slot, session);
      tokens.set(key, token);
      return token;
    } catch (e) {
      if (session) closeQuietly(lib, session);
      releaseModule(options.module);
      if (e instanceof OutpostError) throw e;
      throw keyStoreError(`cannot open the PKCS#11 token "${options.tokenLabel}"`, e);
    }
  }

  /** Mechanisms the token offers (CKM_…), to refuse early what it cannot do. */
  mechanisms(): Set<number> {
    return new Set(this.lib.C_GetMechanismList(this.slot));
  }

  release(): void {
    if (--this.users > 0) return;
    tokens.delete(this.key);
    try {
      this.lib.C_Logout(this.current);
    } catch {
      // the session may already be gone with the token
    }
    closeQuietly(this.lib, this.current);
    releaseModule(this.options.module);
  }
}

function wrongPin(tokenLabel: string, cause?: unknown): OutpostError {
  return new OutpostError(
    ErrorCodes.keyStore,
    `the PKCS#11 token "${tokenLabel}" refused the PIN in keys.pkcs11.pinFile (CKR_PIN_INCORRECT)`,
    { cause },
  );
}

function samePin(a: string, b: string): boolean {
  const digest = (pin: string) => createHash('sha256').update(pin).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** Return values that mean the session, not the operation, failed. */
const SESSION_LOST = new Set([
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
]);

function closeQuietly(lib: Lib, session: Buffer): void {
  try {
    lib.C_CloseSession(session);
  } catch {
    // closing is best effort
  }
}

function findSlot(lib: Lib, options: TokenOptions): Buffer {
  const labels: string[] = [];
  for (const slot of lib.C_GetSlotList(true)) {
    const label = lib.C_GetTokenInfo(slot).label.trimEnd();
    if (label === options.tokenLabel) return slot;
    labels.push(`"${label}"`);
  }
  throw keyStoreError(
    `no PKCS#11 token labelled "${options.tokenLabel}" (keys.pkcs11.tokenLabel) in ${options.module}; ` +
      `tokens present: ${labels.length ? labels.join(', ') : 'none'}`,
  );
}

function login(lib: Lib, session: Buffer, options: TokenOptions): void {
  try {
    lib.C_Login(session, pkcs11js.CKU_USER, options.pin);
  } catch (cause) {
    switch (ckrName(cause)) {
      case 'CKR_USER_ALREADY_LOGGED_IN':
        return; // another session of this process logged in first (C_Login is per application)
      case 'CKR_PIN_INCORRECT':
        throw wrongPin(options.tokenLabel, cause);
      case 'CKR_PIN_LOCKED':
        throw keyStoreError(
          `the PIN of PKCS#11 token "${options.tokenLabel}" is locked (too many wrong PINs); unlock it with the SO PIN`,
          cause,
        );
      default:
        throw keyStoreError(`cannot log in to the PKCS#11 token "${options.tokenLabel}"`, cause);
    }
  }
}
