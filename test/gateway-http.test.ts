import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollDevice } from './testing/enroll-device.js';
import { type GatewayAppliance, startGatewayAppliance } from './testing/gateway-appliance.js';
import { isRoot, VpnTopology } from './testing/netns.js';
import { requirePeers } from './testing/peers.js';

requirePeers('curl', 'scepclient', 'ip', 'sysctl');

const init =
  '<?xml version="1.0" encoding="UTF-8"?>\n<config-auth client="vpn" type="init" aggregate-auth-version="2">' +
  '<version who="vpn">v9.01-3</version><device-id>linux-64</device-id>' +
  '<group-access>https://10.200.1.1/</group-access></config-auth>';

/**
 * The gateway's answers to auth POSTs as an HTTP client sees them, over real TLS from the device
 * namespace (curl): a plain POST is read and answered without Node's HTTP server
 * (gateway/control/request-router.ts: Content-Length framing), anything else by the HTTP server
 * as before (chunked), with the same status, headers and cookie either way.
 */
describe.skipIf(!isRoot())('gateway auth POSTs seen by curl (needs root: network namespaces)', () => {
  let topology: VpnTopology;
  let app: GatewayAppliance;
  let cert: string;

  beforeAll(async () => {
    topology = await VpnTopology.create();
    app = await startGatewayAppliance(topology);
    const device = await enrollDevice(topology, app, 'http-probe');
    cert = `--cert ${device.certFile} --key ${device.keyFile}`;
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await topology?.destroy();
  });

  /** curl in the dev namespace: its stdout (-D - puts each response head there) and stderr. */
  async function curl(args: string): Promise<{ out: string; err: string }> {
    const line =
      `printf '%s' '${init}' > /tmp/outpost-init.xml; curl -sS -D - -o /dev/null --cacert ${app.caFile} ` +
      `-H 'X-Transcend-Version: 1' -H 'X-Aggregate-Auth: 1' ${args} 2>/tmp/outpost-curl.err; ` +
      'echo "exit $?"; cat /tmp/outpost-curl.err';
    const { stdout, stderr } = await topology.exec(topology.dev, 'bash', ['-c', line], 30_000);
    return { out: stdout, err: stderr };
  }

  /** Header lines of each response head, the Date's value blanked. */
  const heads = (out: string) =>
    out
      .split(/\r\n\r\n/)
      .filter((h) => h.startsWith('HTTP/1.1'))
      .map((h) => h.split('\r\n').map((l) => l.replace(/^Date: .+ GMT$/, 'Date: *')));

  it('answers a certificate login POST directly: the cookie, keep-alive, Content-Length framing', async () => {
    const { out } = await curl(`${cert} --data-binary @/tmp/outpost-init.xml https://10.200.1.1/`);
    const [head] = heads(out);
    expect(head, out).toEqual([
      'HTTP/1.1 200 OK',
      'content-type: text/xml',
      'x-transcend-version: 1',
      expect.stringMatching(/^set-cookie: webvpn=[^;]+; Secure; HttpOnly$/),
      'Date: *',
      'Connection: keep-alive',
      'Keep-Alive: timeout=30',
      expect.stringMatching(/^Content-Length: \d+$/),
    ]);
    expect(out).toContain('exit 0');
  });

  it('answers two POSTs on one connection, the second after the first', async () => {
    const post = `${cert} --data-binary @/tmp/outpost-init.xml https://10.200.1.1/`;
    // --next resets every option: the second transfer repeats them.
    const again = `-sS -D - -o /dev/null --cacert ${app.caFile} -H 'X-Transcend-Version: 1' -H 'X-Aggregate-Auth: 1'`;
    const { out } = await curl(`-v ${post} --next -v ${again} ${post}`);
    expect(
      heads(out).map((h) => h[0]),
      out,
    ).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
    expect(out).toMatch(/Re-using existing connection/);
  });

  it('leaves a POST asking to close to the HTTP server, which answers as before (chunked, Connection: close)', async () => {
    const { out } = await curl(
      `${cert} -H 'Connection: close' --data-binary @/tmp/outpost-init.xml https://10.200.1.1/`,
    );
    const [head] = heads(out);
    expect(head, out).toEqual([
      'HTTP/1.1 200 OK',
      'content-type: text/xml',
      'x-transcend-version: 1',
      expect.stringMatching(/^set-cookie: webvpn=[^;]+; Secure; HttpOnly$/),
      'Date: *',
      'Connection: close',
      'Transfer-Encoding: chunked',
    ]);
  });

  it('leaves a GET and a malformed body to the same answers as before', async () => {
    const get = await curl(`${cert} https://10.200.1.1/`);
    expect(heads(get.out)[0]?.[0], get.out).toBe('HTTP/1.1 200 OK');
    expect(get.out).toContain('Transfer-Encoding: chunked');
    const malformed = await curl(`--data-binary '<config-auth' https://10.200.1.1/`);
    expect(heads(malformed.out)[0], malformed.out).toEqual([
      'HTTP/1.1 400 Bad Request',
      'content-type: text/plain',
      'Date: *',
      'Connection: keep-alive',
      'Keep-Alive: timeout=30',
      'Content-Length: 22',
    ]);
  });
});
