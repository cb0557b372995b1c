/**
 * RevocationSet.reconcile installs a snapshot read from the store; a status change
 * applied, or a snapshot read begun, after that read began is newer and must survive it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RevocationSet } from '../../src/tokens/revocation-set.js';

const app = (disabled: boolean) => ({ tokens: [], apps: [{ clientId: 'app_a', tokensRevokedBefore: 0, disabled }] });
const NOW = 1_700_000_000_000;

describe('a reconcile snapshot older than the set', () => {
  it('an app disabled while the snapshot was read stays disabled', () => {
    const rs = new RevocationSet();
    const read = rs.readStarts();
    rs.apply({ type: 'app.status', clientId: 'app_a', disabled: true });
    rs.reconcile(app(false), read);
    assert.equal(rs.check('jti-1', 'app_a', NOW), 'token.app-disabled');
  });

  it('an app enabled while the snapshot was read stays enabled', () => {
    const rs = new RevocationSet();
    rs.apply({ type: 'app.status', clientId: 'app_a', disabled: true });
    const read = rs.readStarts();
    rs.apply({ type: 'app.status', clientId: 'app_a', disabled: false });
    rs.reconcile(app(true), read);
    assert.equal(rs.check('jti-1', 'app_a', NOW), undefined);
  });

  it('of two overlapping reconciles, the one whose read began later wins, whichever installs first', () => {
    for (const order of ['older first', 'newer first'] as const) {
      const rs = new RevocationSet();
      const older = rs.readStarts();
      const newer = rs.readStarts();
      if (order === 'older first') {
        rs.reconcile(app(false), older);
        rs.reconcile(app(true), newer);
      } else {
        rs.reconcile(app(true), newer);
        rs.reconcile(app(false), older);
      }
      assert.equal(rs.check('jti-1', 'app_a', NOW), 'token.app-disabled', order);
    }
  });

  it('a snapshot read after the change is installed (a lost event is made good)', () => {
    const rs = new RevocationSet();
    rs.apply({ type: 'app.status', clientId: 'app_a', disabled: false });
    rs.reconcile(app(true), rs.readStarts());
    assert.equal(rs.check('jti-1', 'app_a', NOW), 'token.app-disabled');
  });

  it('a token revoked while the snapshot was read stays revoked', () => {
    const rs = new RevocationSet();
    const read = rs.readStarts();
    rs.apply({ type: 'token.revoked', jti: 'jti-1', expiresAt: NOW + 60_000 });
    rs.apply({ type: 'app.tokens-revoked', clientId: 'app_b', before: NOW });
    rs.reconcile({ tokens: [], apps: [{ clientId: 'app_b', tokensRevokedBefore: 0, disabled: false }] }, read);
    assert.equal(rs.check('jti-1', 'app_a', NOW), 'token.revoked');
    assert.equal(rs.check('jti-2', 'app_b', NOW - 1000), 'token.revoked');
  });
});
