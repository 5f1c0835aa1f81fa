import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

/**
 * `npm run bench:tunnel`: the same openconnect client and iperf3, in the same namespaces, through
 * ocserv and then through Outpost's gateway (shared/peers/ocserv-bench.sh, TLS only, certificate
 * auth), back to back in one run. Prints both result lines, then exactly one summary line:
 * `tunnel: outpost_up=… ocserv_up=… ratio_up=… outpost_down=… ocserv_down=… ratio_down=…`.
 * Needs root (network namespaces).
 */
const { values } = parseArgs({
  options: {
    harness: { type: 'string', default: resolve(process.cwd(), '../shared/peers/ocserv-bench.sh') },
    duration: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '3' },
  },
});

interface Result {
  line: string;
  up: number;
  down: number;
  upP4?: number;
  downP4?: number;
}

function runHarness(env: Record<string, string>): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn('bash', [values.harness!, 'all'], {
      env: {
        ...process.env,
        AUTH: 'cert',
        DURATION: values.duration!,
        REPEAT: values.repeat!,
        TRANSCRIPT: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      const figure = (test: string) =>
        Number(new RegExp(`${test} (\\d+) Mbit/s`).exec(line)?.[1] ?? Number.NaN);
      if (code !== 0 || Number.isNaN(figure('tcp-up')))
        return fail(new Error(`harness failed (${code}): ${line}`));
      done({
        line,
        up: figure('tcp-up'),
        down: figure('tcp-down'),
        upP4: figure('tcp-up-P4'),
        downP4: figure('tcp-down-P4'),
      });
    });
  });
}

async function main(): Promise<void> {
  if (!existsSync(values.harness!))
    throw new Error(`harness not found: ${values.harness} (pass --harness PATH)`);
  const server = join(dirname(new URL(import.meta.url).pathname), '../../../bench/tunnel/outpost-server.sh');
  const ocserv = await runHarness({});
  const outpost = await runHarness({ SERVER_CMD: server, SERVER_NAME: 'outpost' });
  console.log(`ocserv : ${ocserv.line}`);
  console.log(`outpost: ${outpost.line}`);
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  console.log(
    `tunnel: outpost_up=${outpost.up} ocserv_up=${ocserv.up} ratio_up=${ratio(outpost.up, ocserv.up)} outpost_down=${outpost.down} ocserv_down=${ocserv.down} ratio_down=${ratio(outpost.down, ocserv.down)}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
