import { ErrorCodes, OutpostError } from '../../core/errors.js';

/** What the prompt needs of a terminal: process.stdin when it is a TTY. */
export interface SecretInput {
  isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  off(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

const MAX_PASSWORD_CHARS = 1024;

/**
 * Reads one line from the terminal with echo off (raw mode), so a password is neither shown
 * nor put on the command line, where `ps` and shell history would keep it. Backspace edits;
 * Ctrl-C and Ctrl-D give up. Without a terminal it refuses: a script gives --password-file.
 */
export function readSecretLine(
  input: SecretInput,
  write: (text: string) => void,
  question: string,
): Promise<string> {
  if (!input.isTTY || !input.setRawMode) {
    return Promise.reject(
      new OutpostError(ErrorCodes.badRequest, 'no terminal to ask for the password on: give --password-file'),
    );
  }
  write(question);
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve, reject) => {
    const chars: string[] = [];
    const finish = (error?: OutpostError) => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      write('\n');
      if (error) reject(error);
      else resolve(chars.join(''));
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') {
          return finish(new OutpostError(ErrorCodes.badRequest, 'no password given'));
        }
        if (ch === '\u007f' || ch === '\b') chars.pop();
        else if (chars.length >= MAX_PASSWORD_CHARS) {
          return finish(new OutpostError(ErrorCodes.limit, 'the password is too long'));
        } else chars.push(ch);
      }
    };
    input.on('data', onData);
  });
}

/** Asks for a password; with `confirm`, twice, and refuses when the two differ or it is empty. */
export async function promptPassword(
  input: SecretInput,
  write: (text: string) => void,
  { what, confirm }: { what: string; confirm: boolean },
): Promise<string> {
  const password = await readSecretLine(input, write, `${what} password: `);
  if (!confirm) return password;
  if (password.length === 0) throw new OutpostError(ErrorCodes.badRequest, 'the password is empty');
  const again = await readSecretLine(input, write, `${what} password again: `);
  if (again !== password) throw new OutpostError(ErrorCodes.badRequest, 'the passwords differ');
  return password;
}
