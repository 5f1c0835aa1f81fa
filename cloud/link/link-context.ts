import type { Logger } from 'pino';
import type { JwksContent } from '../../link/schema/index.js';
import type { ConfigPusher } from '../dispatch/config-pusher.js';
import type { JobDispatcher } from '../dispatch/job-dispatcher.js';
import type { CloudCa } from '../pki/cloud-ca.js';
import type { Appliances } from '../store/appliances.js';
import type { Events } from '../store/events.js';
import type { Connections } from './connections.js';

/** What a link session needs from the rest of the control plane. */
export interface LinkContext {
  appliances: Appliances;
  events: Events;
  connections: Connections;
  dispatcher: JobDispatcher;
  configPusher: ConfigPusher;
  ca: CloudCa;
  /** Validity of link client certificates issued on `renew`. */
  clientCertDays: number;
  jwks: () => JwksContent;
  clock: () => Date;
  logger: Logger;
}
