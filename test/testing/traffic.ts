import type { VpnTopology } from './netns.js';

/**
 * Sends `megabytes` of random bytes from the corp namespace to the dev namespace over TCP (so
 * through the tunnel) and returns the SHA-256 of what was sent and of what arrived.
 */
export async function checksumTransfer(
  topology: Pick<VpnTopology, 'spawn' | 'exec' | 'dev' | 'corp'>,
  megabytes: number,
  port = 5001,
  /** The client's namespace (default: the topology's dev). */
  ns = topology.dev,
  /** Where the corp server listens (default: VpnTopology.corpAddress). */
  corpAddress = '10.200.2.2',
  /** Send at most this many MiB a second (default: as fast as the tunnel takes them). */
  paceMiBps?: number,
): Promise<{ sent: string; received: string }> {
  // Paced: 64 KiB at a time, each after its share of a second.
  const wait = paceMiBps ? `setTimeout(f,${Math.ceil(1000 / (paceMiBps * 16))})` : 'setImmediate(f)';
  const server = topology.spawn(topology.corp, process.execPath, [
    '-e',
    `const c=require('crypto');const b=c.randomBytes(${megabytes}<<20);require('net').createServer(s=>{let i=0;const f=()=>{while(i<b.length){const ok=s.write(b.subarray(i,i+65536));i+=65536;if(!ok)return s.once('drain',f);if(${paceMiBps ? 'true' : 'false'})return ${wait}}s.end()};f()}).listen(${port},'${corpAddress}',()=>console.log(c.createHash('sha256').update(b).digest('hex')))`,
  ]);
  try {
    const sent = await new Promise<string>((resolve) =>
      server.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())),
    );
    const { stdout } = await topology.exec(
      ns,
      process.execPath,
      [
        '-e',
        `const h=require('crypto').createHash('sha256');const s=require('net').connect(${port},'${corpAddress}');s.on('data',d=>h.update(d));s.on('end',()=>console.log(h.digest('hex')))`,
      ],
      120_000,
    );
    return { sent, received: stdout.trim() };
  } finally {
    server.kill();
  }
}
