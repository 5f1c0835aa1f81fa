/**
 * Runs the system commands of the data plane (`ip`, `nft`) — the only place that spawns them, so
 * every call has a timeout, an output limit and one error shape: an OutpostError whose detail is
 * the command line and its stderr, which is what an operator needs to fix it.
 */
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { ErrorCodes, OutpostError } from '../../core/errors.js';

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandOptions {
  /** Written to the command's stdin (e.g. an nft script for `nft -f -`). */
  readonly input?: string;
  readonly timeoutMs?: number;
}

export type CommandRunner = (
  command: string,
  args: readonly string[],
  options?: CommandOptions,
) => Promise<CommandResult>;

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_OUTPUT_BYTES = 1 << 20;

export const runCommand: CommandRunner = (command, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ stdout, stderr });
          return;
        }
        const line = [command, ...args].join(' ');
        const e = error as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
        const why =
          e.code === 'ENOENT'
            ? `${command} not found (install ${basename(command) === 'nft' ? 'nftables' : 'iproute2'})`
            : e.killed
              ? `timed out after ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`
              : stderr.trim() || error.message;
        reject(
          new OutpostError(ErrorCodes.internal, `command failed: ${line}`, { cause: error, detail: why }),
        );
      },
    );
    // An EPIPE when the command exits without reading stdin surfaces through the exit status above.
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.input ?? '');
  });
