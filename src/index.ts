// What `import … from 'minimta'` (and 'minimta/testing') gives: the JS API
// for test suites, and the types it speaks in.

export { startMinimta } from './testing/start-minimta.js';
export type { Minimta, MinimtaListener, StartMinimtaOptions } from './testing/start-minimta.js';
export type { MessageFilter } from './inbox/message-filter.js';
export type { MessageDetail, MessageState, MessageSummary } from './inbox/mailbox.js';
export { WaitTimeoutError } from './inbox/mailbox.js';
export type { MtaEvent, MtaEventType, MtaEvents } from './inbox/mta-events.js';
export type { FaultRuleSpec, FaultStage } from './faults/fault-rule.js';
export { FaultRuleError } from './faults/fault-rule-error.js';
export type { Attachment } from './mime/message-parse.js';
export type { HeaderField } from './mime/header-fields.js';
export type { Envelope, RecipientRecord } from './queue/spool/envelope.js';
