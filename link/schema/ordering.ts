import type { ApplianceMessageType } from './appliance-messages.js';
import type { CloudMessageType } from './cloud-messages.js';

/**
 * Ordering rules of a link connection (enforced by the cloud; the appliance applies the mirror rules):
 *
 * 1. The appliance's first message is `hello`. Any other message before it is answered with
 *    `error` reason `out-of-order` (code OUTPOST_ERR_BAD_REQUEST) and otherwise ignored; the connection
 *    stays open so the appliance can still say `hello`.
 * 2. `hello` is sent once per connection; a second one is refused the same way. Its `applianceId` must
 *    be the CN of the TLS client certificate; a mismatch is refused with OUTPOST_ERR_UNAUTHORIZED and
 *    the socket is closed (1008).
 * 3. The cloud answers `hello` with `welcome`, then `jwks`, then `config` if it holds a version newer than
 *    `hello.configVersion`, then the jobs offered to this appliance. Before `welcome` the appliance
 *    ignores (and answers `error` out-of-order to) anything else.
 * 4. `job.accepted` / `job.result` name a job offered to or accepted by this appliance; any other job id
 *    is refused with OUTPOST_ERR_NOT_FOUND (and a `job.accepted` for it answered `job.cancel` `unknown`).
 *    `config.result` names a version pushed to this appliance.
 * 4a. Each `job.accepted`, and each job listed in `hello.pendingResults`, gets one answer: `job.start`
 *    (the job is this appliance's) or `job.cancel` (it is not); the appliance starts a job only on
 *    `job.start` and answers `job.cancel` with `job.cancelled`. A job is offered to one appliance at a
 *    time; when that one leaves before its acceptance arrives, the offer goes to another appliance of
 *    the site after the reassignment grace, and the first one is cancelled when it comes back.
 * 5. `ack` may come in any order relative to other messages; an appliance resends an unacked
 *    `job.result` after reconnecting (with a new message id; the cloud acks by job id as well).
 * 6. A frame larger than LinkLimits.maxMessageBytes cannot be answered: the WebSocket layer (ws
 *    `maxPayload`) closes the socket with 1009 before the message exists. Likewise a *text* frame that is
 *    not UTF-8 is closed by the WebSocket layer (1007, RFC 6455 §8.1). Everything else that fails to
 *    parse is answered with `error` and the connection stays open.
 */
export const OUT_OF_ORDER = 'out-of-order';

/** Appliance messages the cloud accepts before `hello`: only `hello` itself. */
export const beforeHello: readonly ApplianceMessageType[] = ['hello'];

/** Cloud messages the appliance accepts before `welcome`: `welcome` and `error` (e.g. hello refused). */
export const beforeWelcome: readonly CloudMessageType[] = ['welcome', 'error'];
