/**
 * Terminal-escape injection through the CLI: a user, app, security key or audit event whose
 * text holds ESC sequences ("\u001b]0;pwned\u0007" sets the window title, "\u001b[2J" clears
 * the screen), a C1 CSI (U+009B) or a bidirectional override reaches an operator's terminal
 * only escaped, in table, plain and JSON output and in error messages; JSON stays JSON with
 * the same values.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { escapeControls, nameControlCharacter, textControlCharacter } from '../../src/core/control-chars.js';
import { startTestNode, type TestNode } from '../support/portcullis.js';
import { runCli } from './run.js';

const TITLE = '\u001b]0;pwned\u0007';
const CLEAR = '\u001b[2J';
const CSI = '\u009b2J';
const RLO = '\u202e';
/** What a terminal acts on: ESC, BEL, CR, C1 controls, bidirectional overrides. */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('escapeControls', () => {
  test('C0, DEL and C1 as \\xNN, line separators and bidirectional controls as \\u{…}; printable text and backslashes unchanged; escaping twice is escaping once', () => {
    assert.equal(escapeControls(`a${TITLE}b`), 'a\\x1b]0;pwned\\x07b');
    assert.equal(escapeControls(`x${CLEAR}\r\n\t\u007f${CSI}`), 'x\\x1b[2J\\x0d\\x0a\\x09\\x7f\\x9b2J');
    assert.equal(escapeControls(`evil${RLO}txt.exe\u2028\u2066`), 'evil\\u{202e}txt.exe\\u{2028}\\u{2066}');
    assert.equal(escapeControls('Zoë C:\\keys 🔑'), 'Zoë C:\\keys 🔑');
    assert.equal(escapeControls(escapeControls(TITLE)), escapeControls(TITLE));
  });

  test('a one-line name refuses every control (TAB, LF, CR and bidirectional ones too); text refuses C0 but TAB, LF and CR, DEL and C1', () => {
    assert.equal(nameControlCharacter('Office key'), undefined);
    assert.equal(nameControlCharacter(`key${CLEAR}`), 'control character U+001B is not allowed');
    assert.equal(nameControlCharacter('two\nlines'), 'control character U+000A is not allowed');
    assert.equal(nameControlCharacter(`a${RLO}b`), 'control character U+202E is not allowed');
    assert.equal(textControlCharacter('tab\there\r\n'), undefined);
    assert.equal(textControlCharacter('del\u007f'), 'control character U+007F is not allowed');
    assert.equal(textControlCharacter(CSI), 'control character U+009B is not allowed');
  });
});

describe('CLI output of names with terminal escapes (written to the store directly, as no API lets them in)', () => {
  let node: TestNode;
  const userId = 'usr_termesc';
  const clientId = 'app_termesc';
  const cli = (...args: string[]) => runCli([...args, '--dir', node.dir, '--admin-url', node.urls.admin!], {}, 60_000);
  const clean = (r: { stdout: string; stderr: string }, what: string) => {
    assert.doesNotMatch(r.stdout, RAW, `${what}: stdout ${JSON.stringify(r.stdout)}`);
    assert.doesNotMatch(r.stderr, RAW, `${what}: stderr ${JSON.stringify(r.stderr)}`);
  };

  before(async () => {
    node = await startTestNode();
    const now = Date.parse('2026-03-01T10:00:00.000Z');
    const store = node.services.store;
    const email = `mallory${TITLE}@evil.example`;
    await store.createUser({ id: userId, email, emailNormalized: email.toLowerCase(), status: 'active', mfaRequired: false, tokensRevokedBefore: 0, createdAt: now, updatedAt: now });
    await store.addWebAuthnCredential({ id: 'Y3JlZC10ZXJt', userId, name: `Key${CLEAR}${CSI}`, publicKey: 'pQECAyYgASFYIPUBLICKEY', counter: 0, transports: ['usb'], backedUp: false, deviceType: 'singleDevice', createdAt: now, lastUsedAt: null, suspendedAt: null });
    await store.createApp({ clientId, name: `App${CLEAR}\r${RLO}hidden`, audiences: [`https://api${TITLE}.example`], scopes: ['read'], tokenEndpointAuthMethod: 'client_secret_basic', secretVerifier: null, jwks: null, status: 'active', tokensRevokedBefore: 0, createdAt: now, updatedAt: now });
    node.services.audit.record({ time: now, type: 'user.signin-failed', actor: `anonymous${CLEAR}`, reason: `bad${CSI}`, data: { email: `x${TITLE}`, note: `y${CSI}\u007f` } });
    await node.services.audit.flush();
  });
  after(async () => node?.stop());

  test('user list / show: the e-mail and key name escaped, never a raw ESC, BEL or C1', async () => {
    const list = await cli('user', 'list');
    assert.equal(list.code, 0, list.stderr);
    clean(list, 'user list');
    assert.ok(list.stdout.includes('mallory\\x1b]0;pwned\\x07@evil.example'), list.stdout);
    const show = await cli('user', 'show', userId);
    assert.equal(show.code, 0, show.stderr);
    clean(show, 'user show');
    assert.match(show.stdout, /^email:\s+mallory\\x1b\]0;pwned\\x07@evil\.example$/m);
    assert.match(show.stdout, /^key:\s+Y3JlZC10ZXJt\s+"Key\\x1b\[2J\\x9b2J"\s+created/m);
    const disabled = await cli('user', 'disable', userId);
    assert.equal(disabled.code, 0, disabled.stderr);
    clean(disabled, 'user disable');
    assert.equal(disabled.stdout, `disabled: ${userId} (mallory\\x1b]0;pwned\\x07@evil.example)\n`);
  });

  test('user show --json: raw JSON, the same values, DEL and C1 as \\u escapes', async () => {
    const r = await cli('user', 'show', userId, '--json');
    assert.equal(r.code, 0, r.stderr);
    clean(r, 'user show --json');
    const u = JSON.parse(r.stdout);
    assert.equal(u.email, `mallory${TITLE}@evil.example`);
    assert.equal(u.webauthn_credentials[0].name, `Key${CLEAR}${CSI}`);
    assert.ok(r.stdout.includes('\\u009b2J'), r.stdout);
  });

  test('app list / show: the name (with a CR that would overwrite the line, and a right-to-left override) and audiences escaped', async () => {
    const list = await cli('app', 'list');
    assert.equal(list.code, 0, list.stderr);
    clean(list, 'app list');
    assert.ok(list.stdout.includes('App\\x1b[2J\\x0d\\u{202e}hidden'), list.stdout);
    const show = await cli('app', 'show', clientId);
    assert.equal(show.code, 0, show.stderr);
    clean(show, 'app show');
    assert.match(show.stdout, /^name:\s+App\\x1b\[2J\\x0d\\u\{202e\}hidden$/m);
    assert.match(show.stdout, /^audiences:\s+https:\/\/api\\x1b\]0;pwned\\x07\.example$/m);
  });

  test('audit tail: actor, reason and data escaped, in plain and --json output', async () => {
    const plain = await cli('audit', 'tail', '-n', '50');
    assert.equal(plain.code, 0, plain.stderr);
    clean(plain, 'audit tail');
    assert.match(plain.stdout, /user\.signin-failed anonymous\\x1b\[2J reason=bad\\x9b2J/);
    const json = await cli('audit', 'tail', '-n', '50', '--json');
    assert.equal(json.code, 0, json.stderr);
    clean(json, 'audit tail --json');
    const row = json.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((x) => x.type === 'user.signin-failed');
    assert.deepEqual(row.data, { email: `x${TITLE}`, note: `y${CSI}\u007f` });
  });

  test('an error message that echoes input, and a usage error that echoes an argument, are escaped', async () => {
    const bad = await cli('app', 'keys', 'add', clientId, '--jwk', `/nonexistent/${TITLE}.jwk`);
    assert.equal(bad.code, 1);
    clean(bad, 'app keys add --jwk');
    assert.match(bad.stderr, /^error: request\.invalid: --jwk \/nonexistent\/\\x1b\]0;pwned\\x07\.jwk: ENOENT$/m);
    const usage = await runCli(['user', `x${CLEAR}`]);
    assert.equal(usage.code, 1);
    clean(usage, 'usage error');
    assert.match(usage.stderr, /x\\x1b\[2J/);
  });
});
