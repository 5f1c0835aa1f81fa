import type { RunningAppliance } from './appliance.js';

/**
 * The transaction id of the request parked for `cn` (`outpost certs pending --json`), polled until
 * the client's PKCSReq arrived (about 30 s at most).
 */
export async function pendingTransactionFor(app: RunningAppliance, cn: string): Promise<string> {
  for (let i = 0; i < 150; i++) {
    const listed = await app.cli(['certs', 'pending', '--json']);
    const entry = (JSON.parse(listed.stdout) as Array<{ transactionId: string; subject: string }>).find((p) =>
      p.subject.includes(`CN=${cn}`),
    );
    if (entry) return entry.transactionId;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no pending request for ${cn}`);
}
