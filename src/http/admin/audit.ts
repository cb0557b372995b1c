/** Admin routes for the audit trail: page through rows, tail, verify the hash chain. */
import type { Services } from '../../app.js';
import { verifyAuditChain } from '../../audit/trail.js';
import { defineRoute, type AdminRoute } from './route.js';
import { AuditListQuery, AuditPage, AuditTail, AuditTailQuery, AuditVerify } from './schemas.js';

export function auditRoutes(s: Services): AdminRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/audit',
      operationId: 'listAudit',
      summary: 'Audit rows after a sequence number, oldest first.',
      tag: 'audit',
      auth: true,
      query: AuditListQuery,
      responses: { 200: { description: 'A page of rows.', schema: AuditPage } },
      errors: [400],
      async handler({ query }) {
        await s.audit.flush();
        const rows = await s.store.listAudit(query.after, query.limit);
        return { body: { rows, next_after: rows.at(-1)?.seq ?? query.after } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/audit/tail',
      operationId: 'tailAudit',
      summary: 'The newest audit rows, oldest first.',
      tag: 'audit',
      auth: true,
      query: AuditTailQuery,
      responses: { 200: { description: 'The newest rows.', schema: AuditTail } },
      errors: [400],
      async handler({ query }) {
        await s.audit.flush();
        return { body: { rows: await s.store.tailAudit(query.limit) } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/audit/verify',
      operationId: 'verifyAudit',
      summary: 'Verify the whole hash chain; names the first changed, removed or inserted row, or, on a node, a trail set back from what it saw.',
      tag: 'audit',
      auth: true,
      responses: { 200: { description: 'ok:true, or ok:false with the first broken row.', schema: AuditVerify } },
      errors: [],
      async handler() {
        await s.audit.flush();
        const chain = await verifyAuditChain(s.store, s.auditHeadKey);
        if (!chain.ok || s.auditAnchor === undefined) return { body: chain };
        // a chain that verifies may still be shorter than what this node saw (a restored copy)
        const anchor = await s.auditAnchor.verify();
        if (anchor.ok) return { body: chain };
        return { body: { ok: false, rows: chain.rows, code: anchor.code, ...(anchor.brokenAt === undefined ? {} : { brokenAt: anchor.brokenAt }), reason: anchor.reason } };
      },
    }),
  ];
}
