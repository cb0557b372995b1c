/**
 * The audit writer thread's entry (see audit-writer.ts): its own connection to the
 * node's SQLite file, on which it appends each batch the main thread posts, in the
 * order posted, exactly as the main thread's store would (`appendAuditLocked` in a
 * serialised transaction, the one chain hash), and answers with the outcome.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AuditHeadKey } from '../../audit/head-key.js';
import type { AuditEventInput } from '../../audit/store.js';
import { chainHash } from '../../audit/trail.js';
import { appendAuditLocked } from './audit-log.js';
import { openSqlite } from './sqlite.js';
import { storeError } from './store-error.js';
import { storageFault } from './write-faults.js';
import type { AuditWriterData, FromAuditWriter, ToAuditWriter } from './audit-writer.js';

const port = parentPort!;
const send = (m: FromAuditWriter): void => port.postMessage(m);

const data = workerData as AuditWriterData;
let headKey = data.headKey === undefined ? undefined : new AuditHeadKey(data.headKey);
let dialect: ReturnType<typeof openSqlite>;
try {
  dialect = openSqlite(data.path);
} catch (e) {
  const err = storeError('appendAudit', e);
  const fault = storageFault(e);
  send({ type: 'failed', code: err.code, message: err.message, ...(fault !== undefined ? { fault } : {}) });
  throw e;
}

// one batch at a time, in the order they came: the chain is linear
let chain: Promise<void> = Promise.resolve();

port.on('message', (m: ToAuditWriter) => {
  if (m.type === 'close') {
    chain = chain.then(async () => {
      await dialect.close();
      port.close();
    });
    return;
  }
  if (m.type === 'head-key') {
    // in order: the batches posted after it are appended with it
    chain = chain.then(() => {
      headKey = new AuditHeadKey(m.key);
    });
    return;
  }
  const events: AuditEventInput[] = m.events;
  chain = chain.then(() =>
    dialect.serialized((db) => appendAuditLocked(db, events, chainHash, headKey)).then(
      () => send({ type: 'done', id: m.id }),
      (e: unknown) => {
        const err = storeError('appendAudit', e);
        const fault = storageFault(e);
        send({ type: 'done', id: m.id, error: { code: err.code, message: err.message, ...(err.details?.['retryable'] === true ? { retryable: true } : {}), ...(fault !== undefined ? { fault } : {}) } });
      },
    ),
  );
});

send({ type: 'ready' });
