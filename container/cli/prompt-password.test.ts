import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { promptPassword, readSecretLine, type SecretInput } from './prompt-password.js';

/** A terminal that types `lines` one chunk at a time, and records raw mode. */
function terminal(chunks: string[], isTTY = true) {
  const emitter = new EventEmitter();
  const modes: boolean[] = [];
  const input: SecretInput = {
    isTTY,
    setRawMode: (raw: boolean) => modes.push(raw),
    on: (e, l) => emitter.on(e, l),
    off: (e, l) => emitter.off(e, l),
    resume: () => {
      const next = chunks.shift();
      if (next !== undefined) setImmediate(() => emitter.emit('data', Buffer.from(next)));
    },
    pause: () => {},
  };
  return { input, modes };
}

describe('readSecretLine', () => {
  it('reads up to Enter with echo off, applies backspace, restores the terminal', async () => {
    const { input, modes } = terminal(['s3cx\u007fret\r']);
    let shown = '';
    const line = await readSecretLine(input, (t) => (shown += t), 'PKCS#12 password: ');
    expect(line).toBe('s3cret');
    expect(shown).toBe('PKCS#12 password: \n'); // nothing of the password is written
    expect(modes).toEqual([true, false]);
  });

  it('gives up on Ctrl-C, and refuses without a terminal', async () => {
    await expect(readSecretLine(terminal(['ab\u0003']).input, () => {}, '? ')).rejects.toThrow(
      'no password given',
    );
    await expect(readSecretLine(terminal([], false).input, () => {}, '? ')).rejects.toThrow(
      'no terminal to ask for the password on: give --password-file',
    );
  });
});

describe('promptPassword', () => {
  it('asks twice when confirming and refuses two different answers', async () => {
    expect(
      await promptPassword(terminal(['pw\r', 'pw\r']).input, () => {}, { what: 'x', confirm: true }),
    ).toBe('pw');
    await expect(
      promptPassword(terminal(['pw\r', 'pX\r']).input, () => {}, { what: 'x', confirm: true }),
    ).rejects.toThrow('the passwords differ');
  });
});
