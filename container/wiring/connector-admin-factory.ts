import type { Logger } from 'pino';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ConnectorAdmin } from '../connector-admin.js';

/**
 * STUB: the integrator replaces this with the real wiring (store, CA, authority). Until then the
 * connector verbs of the CLI fail with a clear message.
 */
export async function openConnectorAdmin(_config: OutpostConfig, _logger: Logger): Promise<ConnectorAdmin> {
  throw new OutpostError(ErrorCodes.internal, 'not wired yet', {
    detail: 'container/wiring/connector-admin-factory.ts is a stub',
  });
}
