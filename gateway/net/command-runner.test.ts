import { describe, expect, it } from 'vitest';
import { runCommand } from './command-runner.js';

describe('runCommand', () => {
  it('returns stdout and feeds stdin', async () => {
    await expect(runCommand('cat', [], { input: 'table ip x {}\n' })).resolves.toEqual({
      stdout: 'table ip x {}\n',
      stderr: '',
    });
  });

  it('fails with the command line and its stderr', async () => {
    const failure = runCommand('sh', ['-c', 'echo "RTNETLINK answers: File exists" >&2; exit 2']);
    await expect(failure).rejects.toMatchObject({
      code: 'OUTPOST_ERR_INTERNAL',
      message: expect.stringMatching(/command failed: sh -c .*: RTNETLINK answers: File exists$/),
    });
  });

  it('says which package provides a missing command', async () => {
    await expect(runCommand('/nonexistent/nft', [])).rejects.toThrow(/not found \(install nftables\)/);
    await expect(runCommand('/nonexistent/ip', [])).rejects.toThrow(/not found \(install iproute2\)/);
  });

  it('kills a command that outlives its timeout', async () => {
    await expect(runCommand('sleep', ['5'], { timeoutMs: 100 })).rejects.toThrow(/timed out after 100 ms/);
  });
});
