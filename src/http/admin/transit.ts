/**
 * Admin routes for transit (encryption as a service): key management (create, list,
 * read, rotate, config) and the seven operations under `/v1/transit/<op>/<name>`, all
 * with the admin token. Apps call the same operations on the identity plane with a
 * scoped access token (`http/transit-plane.ts`). Every operation call is audited
 * (`transit.<op>`, actor `admin`), one whose body is refused before the operation too.
 */
import type { Services } from '../../app.js';
import type { TransitKeyType } from '../../crypto/transit/index.js';
import { auditedTransitOp, recordTransitFailure, TRANSIT_OPS, TRANSIT_REQUEST, TRANSIT_RESULT, TRANSIT_SUMMARY, viewTransitKey } from '../transit-ops.js';
import { defineRoute, type AdminRoute } from './route.js';
import { CreateTransitKeyRequest, TRANSIT_ADMIN_BODY_LIMIT, TransitKeyConfigRequest, TransitKeyList, TransitKeyListQuery, TransitKeyResponse } from './encryption-schemas.js';
import { storePage } from './page.js';

const ACTOR = 'admin';

export function transitRoutes(s: Services): AdminRoute[] {
  const now = () => s.clock.now();
  const changed = async (name: string) => {
    await s.events.emit({ type: 'transit.changed', name });
    await s.audit.flush();
  };
  const manage: AdminRoute[] = [
    defineRoute({
      method: 'POST',
      path: '/v1/transit/keys',
      operationId: 'createTransitKey',
      summary: 'Create a named transit key (aes256-gcm, ed25519 or ecdsa-p256) with version 1.',
      tag: 'transit',
      auth: true,
      body: CreateTransitKeyRequest,
      responses: { 201: { description: 'Created.', schema: TransitKeyResponse } },
      errors: [400, 409],
      async handler({ body }) {
        const key = await s.transit.createKey(body.name, body.type as TransitKeyType, body.auto_rotate === undefined ? {} : { autoRotate: body.auto_rotate });
        s.audit.record({ time: s.clock.now(), type: 'transit.key-created', actor: ACTOR, data: { key: key.name, type: key.type } });
        await changed(key.name);
        return { status: 201, body: { key: viewTransitKey(key) } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/transit/keys',
      operationId: 'listTransitKeys',
      summary: 'List transit key names, a page at a time.',
      tag: 'transit',
      auth: true,
      query: TransitKeyListQuery,
      responses: { 200: { description: 'A page of names, sorted.', schema: TransitKeyList } },
      errors: [400],
      async handler({ query }) {
        const { rows, next_after } = await storePage(query, (p) => s.transit.listKeys(p), (name: string) => name, (name) => name);
        return { body: { keys: rows, next_after } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/transit/keys/:name',
      operationId: 'getTransitKey',
      summary: 'Read a transit key: type, versions and their public keys, version floors, encryptions counted per aes256-gcm version against the invocation limit (never key material).',
      tag: 'transit',
      auth: true,
      responses: { 200: { description: 'The key.', schema: TransitKeyResponse } },
      errors: [400, 404],
      async handler({ params }) {
        return { body: { key: viewTransitKey(await s.transit.readKey(params.name!)) } };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/transit/keys/:name/rotate',
      operationId: 'rotateTransitKey',
      summary: 'Add a key version: new values use it, older versions keep decrypting until minDecryptionVersion passes them.',
      tag: 'transit',
      auth: true,
      responses: { 200: { description: 'The key after the rotation.', schema: TransitKeyResponse } },
      errors: [400, 404, 409],
      async handler({ params }) {
        const key = await s.transit.rotate(params.name!);
        s.audit.record({ time: s.clock.now(), type: 'transit.key-rotated', actor: ACTOR, data: { key: key.name, version: key.latestVersion } });
        await changed(key.name);
        return { body: { key: viewTransitKey(key) } };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/transit/keys/:name/config',
      operationId: 'configureTransitKey',
      summary: 'Set min_decryption_version / min_encryption_version (retire old versions after rewrapping) and auto_rotate.',
      tag: 'transit',
      auth: true,
      body: TransitKeyConfigRequest,
      responses: { 200: { description: 'The key after the change.', schema: TransitKeyResponse } },
      errors: [400, 404],
      async handler({ params, body }) {
        const patch: { minDecryptionVersion?: number; minEncryptionVersion?: number; autoRotate?: boolean } = {};
        if (body.min_decryption_version !== undefined) patch.minDecryptionVersion = body.min_decryption_version;
        if (body.min_encryption_version !== undefined) patch.minEncryptionVersion = body.min_encryption_version;
        if (body.auto_rotate !== undefined) patch.autoRotate = body.auto_rotate;
        const { previous, ...key } = await s.transit.configure(params.name!, patch);
        // a lower floor makes retired versions decrypt again: allowed (they were kept), never silently
        const lowered = key.minDecryptionVersion < previous.minDecryptionVersion;
        s.audit.record({
          time: s.clock.now(),
          type: 'transit.key-configured',
          actor: ACTOR,
          reason: lowered ? 'min-decryption-version-lowered' : null,
          data: {
            key: key.name,
            minDecryptionVersion: key.minDecryptionVersion,
            minEncryptionVersion: key.minEncryptionVersion,
            autoRotate: key.autoRotate,
            previous,
            ...(lowered ? { reactivatedVersions: { from: key.minDecryptionVersion, to: previous.minDecryptionVersion - 1 } } : {}),
          },
        });
        await changed(key.name);
        return { body: { key: viewTransitKey(key) } };
      },
    }),
  ];
  const ops = TRANSIT_OPS.map((op) =>
    defineRoute({
      method: 'POST',
      path: `/v1/transit/${op}/:name`,
      operationId: `transit${op[0]!.toUpperCase()}${op.slice(1)}`,
      summary: TRANSIT_SUMMARY[op],
      tag: 'transit',
      auth: true,
      body: TRANSIT_REQUEST[op],
      bodyLimit: TRANSIT_ADMIN_BODY_LIMIT,
      responses: { 200: { description: 'Results (batch_results for batch_input).', schema: TRANSIT_RESULT[op] } },
      errors: [400, 404, 413],
      async handler({ params, body }) {
        return { body: await auditedTransitOp(s.transit, s.audit, now, { actor: ACTOR }, op, params.name!, body) };
      },
      // a call whose body was refused (parser, limit, schema) is audited as the call it was, as on the identity plane
      onRefused(request, err) {
        recordTransitFailure(s.audit, now, { actor: ACTOR }, op, (request.params as { name?: string }).name ?? '', err);
      },
    }),
  );
  return [...manage, ...ops];
}
