/**
 * `identity.otp.sender` fails closed. It defaulted to `console`, which prints every
 * one-time code (a secret) to the node's stderr, into its logs: a deployment that left the
 * sender out wrote its users' codes there. Now no sender means no code factor, said at
 * start and by `config check`; enrolling it is `mfa.factor-unavailable`, and nothing is
 * printed. `console` is there only when chosen, with a warning at start (once).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/core/logger.js';
import { loadConfig } from '../../src/core/config/load.js';
import { CONFIG_FILE, initPortcullis } from '../../src/init.js';
import { Browser, actionOf, csrfOf } from '../support/oidc-harness.js';
import { authorizationRequest, enrolTotp, post, registerOidcApp, signIn, startOidcNode, totpCode } from '../support/oidc-node.js';
import { tempDir, type TestNode } from '../support/portcullis.js';
import { runCli } from '../cli/run.js';

const AUD = 'https://api.example.test';
const PASSWORD = 'plum tractor velvet orbit';
const OFF = 'one-time codes by e-mail are off: no sender is configured (identity.otp.sender is none); set identity.otp.sender to smtp or webhook to offer them';
const CONSOLE = "identity.otp.sender is console: every one-time code is printed to this node's stderr, into its logs: for development only, never where real users sign in";
const UNAVAILABLE = 'Codes by e-mail are not available on this service: choose another second factor.';

interface LogLine {
  level: number;
  msg: string;
}

function capturedLogger() {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  return { logger: createLogger('info', sink), lines, about: (re: RegExp) => lines.filter((l) => re.test(l.msg)).map((l) => [l.level, l.msg]) };
}

/** Everything written to this process's stderr until `restore`. */
function capturedStderr() {
  const real = process.stderr.write.bind(process.stderr);
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    text += String(chunk);
    return (real as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  return { text: () => text, restore: () => void (process.stderr.write = real) };
}

async function passwordStep(node: TestNode, app: Awaited<ReturnType<typeof registerOidcApp>>, email: string) {
  const issuer = node.urls.identity!;
  const { url } = await authorizationRequest(app.config, { resource: AUD });
  const browser = new Browser();
  const page = await browser.follow(url.toString(), issuer);
  return { browser, issuer, r: await post(browser, issuer, page.body, 'login', { email, password: PASSWORD }) };
}

test('identity.otp.sender unset: no code factor (said once at start); enrolling e-mail codes at sign-in or on the account page is mfa.factor-unavailable (503), the pages offer none, and no code is printed', async () => {
  const log = capturedLogger();
  const stderr = capturedStderr();
  let node: TestNode | undefined;
  try {
    node = await startOidcNode('', { logger: log.logger });
    assert.equal(node.services.config.identity.otp.sender, 'none');
    assert.deepEqual(log.about(/one-time code|otp/i), [[30, OFF]]);
    assert.deepEqual(node.services.identity.factors.map((f) => f.id), ['totp', 'recovery-code']);
    const app = await registerOidcApp(node, AUD);

    // enrolment at sign-in: only the factors there are, and e-mail codes refused by name
    const must = await node.services.identity.users.add({ email: 'must@example.test', password: PASSWORD, mfaRequired: true }, 'test');
    const { browser, issuer, r } = await passwordStep(node, app, 'must@example.test');
    assert.equal(r.status, 200, r.body.slice(0, 300));
    assert.match(r.body, /Set up a second factor/);
    assert.match(r.body, /name="factor" value="totp"/);
    assert.doesNotMatch(r.body, /name="factor" value="(email|sms)"|E-mail address|Send a code/);
    const refused = await browser.request(actionOf(r.body, 'enroll', issuer), { form: { csrf: csrfOf(r.body), factor: 'email', address: 'must@example.test' } });
    assert.equal(refused.status, 503, refused.body.slice(0, 300));
    assert.ok(refused.body.includes(UNAVAILABLE), refused.body);
    assert.equal(await node.services.store.getEnrollment(must.id, 'email'), undefined);

    // the account page: no e-mail codes to set up, and the same refusal when asked anyway
    await node.services.identity.users.add({ email: 'self@example.test', password: PASSWORD }, 'test');
    const self = await signIn(node, app, AUD, 'self@example.test', PASSWORD);
    const account = await self.browser.request(`${issuer}/account`);
    assert.equal(account.status, 200);
    assert.doesNotMatch(account.body, /value="email"|Codes by e-mail/);
    const asked = await self.browser.request(actionOf(account.body, 'factors/enroll', issuer), { form: { csrf: csrfOf(account.body), factor: 'email', address: 'self@example.test' } });
    assert.equal(asked.status, 503, asked.body.slice(0, 300));
    assert.ok(asked.body.includes(UNAVAILABLE), asked.body);

    // a user enrolled while a sender was configured: refused at sign-in, never let in on the password
    const old = await node.services.identity.users.add({ email: 'enrolled@example.test', password: PASSWORD }, 'test');
    await node.services.store.putEnrollment({ userId: old.id, factorId: 'email', status: 'confirmed', data: { address: 'enrolled@example.test' }, createdAt: Date.now(), confirmedAt: Date.now() });
    const stranded = await passwordStep(node, app, 'enrolled@example.test');
    assert.equal(stranded.r.status, 503);
    assert.match(stranded.r.body, /Your second factor is not available on this service now/);
    assert.equal(stranded.r.location, undefined);
  } finally {
    stderr.restore();
    await node?.stop();
  }
  assert.ok(!stderr.text().includes('dev sender'), stderr.text());
  assert.ok(!/must@example\.test|self@example\.test/.test(stderr.text()), stderr.text());
});

test('the second step asked for a code factor the deployment does not offer, or no factor at all, renders the sign-in page with the message (not a bare problem+json), and the user can still go on with TOTP', async () => {
  const node = await startOidcNode('');
  try {
    const app = await registerOidcApp(node, AUD);
    const user = await node.services.identity.users.add({ email: 'totp@example.test', password: PASSWORD }, 'test');
    const seed = await enrolTotp(node, user.id);
    const { browser, issuer, r } = await passwordStep(node, app, 'totp@example.test');
    assert.equal(r.status, 200, r.body.slice(0, 300));
    assert.match(r.body, /<title>Second step<\/title>/);
    const step = (action: string, fields: Record<string, string>) => browser.request(new URL(`${/action="([^"]*\/interaction\/[^/"]+)\//.exec(r.body)![1]!}/${action}`, issuer).toString(), { form: { csrf: csrfOf(r.body), ...fields } });
    const cases: Array<[string, Record<string, string>, number, string]> = [
      ['send-code', { factor: 'email' }, 503, UNAVAILABLE],
      ['mfa', { factor: 'email', code: '123456' }, 503, UNAVAILABLE],
      ['send-code', { factor: 'carrier-pigeon' }, 400, 'No such second factor.'],
      ['mfa', { factor: 'carrier-pigeon', code: '123456' }, 400, 'No such second factor.'],
      ['mfa', { code: '123456' }, 400, 'No such second factor.'],
    ];
    for (const [action, fields, status, message] of cases) {
      const got = await step(action, fields);
      const what = `${action} ${JSON.stringify(fields)}: ${got.status} ${got.body.slice(0, 300)}`;
      assert.equal(got.status, status, what);
      assert.equal(got.headers.get('content-type'), 'text/html; charset=utf-8', what);
      assert.match(got.body, /<title>Second step<\/title>/, what);
      assert.ok(got.body.includes(`<p role="alert" id="error">${message}</p>`), what);
      assert.match(got.body, /name="factor" value="totp"/, what);
    }
    // not a failed attempt at a code: nothing verified, nothing counted, nothing audited as one
    await node.services.audit.flush();
    assert.deepEqual((await node.services.store.tailAudit(50)).filter((e) => e.type === 'signin.mfa-failed'), []);
    // the page's state is intact: the offered factor still finishes the sign-in
    const done = await step('mfa', { factor: 'totp', code: totpCode(seed, Date.now() + 30_000) });
    assert.ok(done.location?.startsWith(issuer), `${done.status} ${done.body.slice(0, 300)}`);
  } finally {
    await node.stop();
  }
});

test('identity.otp.sender console, chosen explicitly: the node warns once at start that codes go to stderr (development only)', async () => {
  const log = capturedLogger();
  const node = await startOidcNode('identity: { otp: { sender: console } }', { logger: log.logger });
  try {
    assert.deepEqual(log.about(/one-time code|otp/i), [[40, CONSOLE]]);
    assert.deepEqual(node.services.identity.factors.map((f) => f.id), ['totp', 'email', 'recovery-code']);
  } finally {
    await node.stop();
  }
});

test('config check says the code factor is off when no sender is configured, and warns about console and the file outbox; stdout stays "ok"', async () => {
  const root = tempDir('portcullis-otp-check-');
  try {
    const check = async (otp: string) => {
      const dir = join(root, String(Math.random()).slice(2));
      await initPortcullis(dir, { config: `issuer: https://127.0.0.1:8080\n${otp}\n` });
      const r = await runCli(['config', 'check', '--dir', dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'ok\n');
      return { r, dir };
    };
    assert.equal((await check('')).r.stderr, `note: ${OFF}\n`);
    assert.equal((await check('identity: { otp: { channel: sms } }')).r.stderr, 'note: one-time codes by text message are off: no sender is configured (identity.otp.sender is none); set identity.otp.sender to webhook to offer them\n');
    assert.equal((await check('identity: { otp: { sender: console } }')).r.stderr, `warning: ${CONSOLE}\n`);
    const file = await check('identity: { otp: { sender: file } }');
    assert.equal(file.r.stderr, `warning: identity.otp.sender is file: one-time codes are written to ${join(file.dir, 'otp-outbox.jsonl')}, not delivered to anyone: for trying Portcullis out and tests only\n`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('portcullis init (the quick start) writes sender file, so e-mail codes can be tried from the outbox in the config directory, never from the log', async () => {
  const dir = join(tempDir('portcullis-otp-init-'), 'node');
  try {
    await initPortcullis(dir);
    const text = readFileSync(join(dir, CONFIG_FILE), 'utf8');
    assert.match(text, /^ {2}otp:\n {4}sender: file {2,}#/m);
    const { config } = loadConfig(join(dir, CONFIG_FILE));
    assert.equal(config.identity.otp.sender, 'file');
    assert.equal(config.identity.otp.file, './otp-outbox.jsonl');
    // an operator who deletes the sender line gets no codes, not codes in the log
    writeFileSync(join(dir, CONFIG_FILE), text.replace(/^ {4}sender: file.*\n/m, ''));
    assert.equal(loadConfig(join(dir, CONFIG_FILE)).config.identity.otp.sender, 'none');
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});
