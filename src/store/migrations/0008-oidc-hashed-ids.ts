/**
 * oidc_models rows of models whose id is a bearer secret (refresh tokens, opaque access
 * tokens, sessions, device and CIBA codes) move to a SHA-256 of model and id, and their
 * payload loses `jti` (the same secret), as the adapter now writes them
 * (identity/oidc/adapter.ts storageId). Live refresh tokens and sessions keep working.
 * AuthorizationCode rows (kept in the ephemeral store for some time now, and dead after
 * a minute) are deleted. The formula is written out here, not imported: a shipped
 * migration never changes.
 */
import { createHash } from 'node:crypto';
import type { Kysely, Migration } from 'kysely';

const HASHED = ['AccessToken', 'RefreshToken', 'Session', 'DeviceCode', 'BackchannelAuthenticationRequest', 'ClientCredentials'];

const hashed = (model: string, id: string): string => createHash('sha256').update(`portcullis/oidc-model-id/v1\0${model}\0${id}`).digest('base64url');

interface Row {
  model: string;
  id: string;
  payload: string;
}

export const oidcHashedIds: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.deleteFrom('oidc_models').where('model', '=', 'AuthorizationCode').execute();
    const rows = (await db.selectFrom('oidc_models').select(['model', 'id', 'payload']).where('model', 'in', HASHED).execute()) as Row[];
    for (const r of rows) {
      const { jti: _secret, ...rest } = JSON.parse(r.payload) as Record<string, unknown>;
      await db
        .updateTable('oidc_models')
        .set({ id: hashed(r.model, r.id), payload: JSON.stringify(rest) })
        .where('model', '=', r.model)
        .where('id', '=', r.id)
        .execute();
    }
  },
};
