import type { FastifyInstance } from 'fastify';

/** Path of the CRL distribution point the built-in CA writes into every certificate. */
export const crlPath = '/crl/ca.crl';

/** Serves the current CRL (RFC 5280 §4.2.1.13 over HTTP, DER, `application/pkix-crl`). */
export function registerCrlRoute(app: FastifyInstance, currentCrl: () => Buffer | undefined): void {
  app.get(crlPath, async (_request, reply) => {
    const crl = currentCrl();
    if (!crl) return reply.code(404).type('text/plain').send('no CRL published\n');
    return reply.type('application/pkix-crl').header('cache-control', 'max-age=300').send(crl);
  });
}
