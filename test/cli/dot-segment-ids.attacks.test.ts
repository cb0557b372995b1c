/**
 * Attack: an identifier of `.` or `..` (or `%2e%2e`, which the WHATWG URL parser reads the
 * same) given to a CLI command is a dot segment of the request URL: fetch resolves it away
 * and calls another resource (`app keys list ..` was `GET /v1/keys` and printed the node's
 * signing keys as the app's, exit 0). The admin client refuses such a path before anything
 * is sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminClient } from '../../src/cli/client.js';
import { CliError } from '../../src/cli/output.js';
import { UserCreated } from '../../src/http/admin/user-schemas.js';
import { startTestNode, type TestNode } from '../admin/node.js';
import { runCli } from './run.js';

describe('CLI: an identifier that is a URL dot segment', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode();
  });
  after(async () => {
    await t.close();
  });

  test('attack: `app keys list .. --json` → error: request.invalid, exit 1, not the node\'s signing keys (GET /v1/keys)', async () => {
    const r = await runCli(['app', 'keys', 'list', '..', '--json', '--config', t.configFile, '--admin-url', t.admin]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /^error: request\.invalid: /);
    assert.equal(r.stdout, '');
  });

  test('attack: ., .., %2e%2e and .%2E as an id → request.invalid before any request; nothing changes', async () => {
    const u = UserCreated.parse((await t.api('/v1/users', { body: { email: 'dots2@example.test', invite: true } })).body).user;
    const client = new AdminClient(t.admin, t.adminToken);
    for (const id of ['.', '..', '%2e%2e', '.%2E', '%2E']) {
      await assert.rejects(
        () => client.call('DELETE', `/v1/users/${encodeURIComponent(u.id)}/sessions/${id}`),
        (e: unknown) => e instanceof CliError && e.code === 'request.invalid' && e.message.includes('dot segment'),
        id,
      );
    }
    await assert.rejects(() => client.call('POST', '/v1/apps/../disable'), (e: unknown) => e instanceof CliError && e.code === 'request.invalid');
    assert.equal((await t.api(`/v1/users/${u.id}`)).status, 200, 'the user still exists');
  });

  test('ids that merely contain dots (an e-mail address, a keyid) still reach their resource', async () => {
    const client = new AdminClient(t.admin, t.adminToken);
    await t.api('/v1/users', { body: { email: 'a.b@example.test', invite: true } });
    const r = await client.call<{ user: { email: string } }>('GET', `/v1/users/${encodeURIComponent('a.b@example.test')}`);
    assert.equal(r.user.email, 'a.b@example.test');
    await assert.rejects(() => client.call('GET', '/v1/apps/...'), (e: unknown) => e instanceof CliError && e.code === 'not-found');
  });
});
