import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Test helper: runs the openssl CLI in a temp dir holding `files`; returns stdout. Tests only. */
export function openssl(args: string[], files: Record<string, string | Uint8Array> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-openssl-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Like openssl(), but also returns the bytes of an output file the command wrote. */
export function opensslOutput(
  args: string[],
  files: Record<string, string | Uint8Array>,
  output: string,
): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-openssl-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    return readFileSync(join(dir, output));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs openssl and returns stdout + stderr and the exit status (some commands report verify results on stderr only). */
export function opensslAll(
  args: string[],
  files: Record<string, string | Uint8Array> = {},
): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-openssl-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
