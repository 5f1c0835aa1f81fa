import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { beforeAll } from 'vitest';

/** The directories searched: the PATH, plus the sbin ones a non-login root shell may lack. */
function searchPath(): string[] {
  const path = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return [...new Set([...path, '/usr/local/sbin', '/usr/sbin', '/sbin'])];
}

/** A bare name is looked up on the search path; an absolute path (a program Debian keeps off it) is checked as is. */
function onPath(program: string): boolean {
  if (program.startsWith('/')) return executable(program);
  return searchPath().some((dir) => executable(join(dir, program)));
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The programs of `programs` that are not installed. */
export function missingPeers(programs: readonly string[]): string[] {
  return programs.filter((program) => !onPath(program));
}

/**
 * Called once at the top of an interop test file with the peer programs it runs. When one is
 * missing, every test of the file is skipped with one line naming them and the command that
 * installs them; in CI (CI=true), where .ci/run installed them, the file fails instead, so a
 * missing peer can never pass as a skip.
 */
export function requirePeers(...programs: string[]): void {
  const missing = missingPeers(programs);
  if (missing.length === 0) return;
  const line = `missing peer programs: ${missing.join(', ')} (install them with: npm run peers:install)`;
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads the first argument as fixtures and wants a pattern
  beforeAll(({}, file) => {
    if (process.env.CI === 'true') throw new Error(line);
    console.warn(`skipped ${file.name}: ${line}`);
    skipAll(file as Suite);
  });
}

interface Suite {
  mode: string;
  tasks?: Suite[];
}

/** Marks every test and suite still to run as skipped (the runner checks each before it starts it). */
function skipAll(suite: Suite): void {
  for (const task of suite.tasks ?? []) {
    if (task.mode === 'run' || task.mode === 'queued') task.mode = 'skip';
    skipAll(task);
  }
}
