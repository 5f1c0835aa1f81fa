import { execFile } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a peer program with a time limit and returns its exit code and output (never throws on exit code). */
export function run(
  cmd: string,
  args: string[],
  options: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((done) => {
    execFile(
      cmd,
      args,
      {
        timeout: options.timeoutMs ?? 60_000,
        cwd: options.cwd,
        env: options.env ?? process.env,
        maxBuffer: 16 << 20,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** Runs openssl and throws with its stderr when it fails: every artifact check goes through here. */
export async function openssl(args: string[], cwd?: string): Promise<string> {
  const result = await run('openssl', args, cwd ? { cwd } : {});
  if (result.code !== 0)
    throw new Error(`openssl ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
  return result.stdout + result.stderr;
}
