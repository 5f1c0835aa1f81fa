import { readFileSync } from 'node:fs';

/**
 * Reads the ocserv 1.1.6 <-> openconnect 9.01 capture (a copy of ../shared/peers/cstp-transcript.txt)
 * and cuts out what the codec tests compare against. Test support only.
 */
const text = readFileSync(new URL('../fixtures/ocserv-1.1.6-openconnect-9.01.txt', import.meta.url), 'utf8');

export type SectionName = 'A' | 'B' | 'C';

export function section(name: SectionName): string[] {
  const start = text.indexOf(`=================== (${name})`);
  if (start < 0) throw new Error(`no section ${name} in the transcript`);
  return text.slice(start, findSectionEnd(start)).split('\n');
}

function findSectionEnd(start: number): number | undefined {
  const marker = /\n=================== \(/g;
  marker.lastIndex = start + 10;
  const m = marker.exec(text);
  return m ? m.index : undefined;
}

/** The CONNECT request headers as openconnect sent them, names lower-cased like Node's req.headers. */
export function connectRequestHeaders(name: SectionName): Record<string, string> {
  const lines = section(name);
  const from = lines.indexOf('> CONNECT /CSCOSSLC/tunnel HTTP/1.1');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(from + 1)) {
    if (line === '> ') break;
    const m = /^> ([^:]+): (.*)$/.exec(line);
    if (m) headers[m[1]!.toLowerCase()] = m[2]!;
  }
  return headers;
}

/** The CONNECT response headers in order, as [name, value]. */
export function connectResponseHeaders(name: SectionName): [string, string][] {
  const lines = section(name);
  const from = lines.indexOf('Got CONNECT response: HTTP/1.1 200 CONNECTED');
  const headers: [string, string][] = [];
  for (const line of lines.slice(from + 1)) {
    const m = /^(X-[A-Za-z0-9-]+): (.*)$/.exec(line);
    if (!m) break;
    headers.push([m[1]!, m[2]!]);
  }
  return headers;
}

/** The vpnc-script environment openconnect derived from the CONNECT reply (reason=connect). */
export function vpncEnvironment(name: SectionName): Record<string, string> {
  const lines = section(name);
  const from = lines.findIndex((l) => l.includes('(vpnc-env.connect)'));
  const env: Record<string, string> = {};
  for (const line of lines.slice(from + 1)) {
    const m = /^([A-Z0-9_a-z]+)=(.*)$/.exec(line);
    if (!m) break;
    env[m[1]!] = m[2]!;
  }
  return env;
}

/** XML bodies the client POSTed, in order. */
export function clientXmlBodies(name: SectionName): string[] {
  return section(name)
    .filter((l) => l.startsWith('> <config-auth'))
    .map((l) => l.slice(2));
}

/** XML bodies the server answered, in order; lines joined with '\n' as they were sent. */
export function serverXmlBodies(name: SectionName): string[] {
  const bodies: string[] = [];
  let current: string[] | null = null;
  for (const line of section(name)) {
    if (line.startsWith('< ')) {
      current ??= [];
      current.push(line.slice(2));
    } else if (current) {
      bodies.push(current.join('\n'));
      current = null;
    }
  }
  return bodies;
}

/** The Content-Length the server gave for each XML body, in order. */
export function serverBodyLengths(name: SectionName): number[] {
  return section(name)
    .map((l) => /^HTTP body length: {2}\((\d+)\)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
}
