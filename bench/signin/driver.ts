/**
 * The sign-in load, in its own process: complete OpenID Connect sign-ins against the
 * bench node over HTTP, CONCURRENCY in flight, each as a fresh cookie-keeping client:
 * authorize (PKCE S256) → sign-in page → password → TOTP → consent → redirect with a
 * code → code redeemed at /oauth2/token. Stays up between runs (the TOTP replay guard
 * needs to know which steps each user has spent): reads `run <ms>` lines on stdin and
 * answers each with one JSON line.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { AUDIENCE, PASSWORD, REDIRECT, codeAt, stepOf, type SigninFixture } from './fixture.js';

const fx = JSON.parse(readFileSync(process.env['FIXTURE']!, 'utf8')) as SigninFixture;
const concurrency = Number(process.env['CONCURRENCY'] ?? 16);
const agent = new Agent({ connections: concurrency * 2, keepAliveTimeout: 30_000 });
const basic = `Basic ${Buffer.from(`${fx.clientId}:${fx.clientSecret}`).toString('base64')}`;

interface Res {
  status: number;
  location: string | undefined;
  body: string;
}

class Client {
  private readonly cookies = new Map<string, string>();

  async send(url: string, form?: Record<string, string>, headers: Record<string, string> = {}): Promise<Res> {
    const h: Record<string, string> = { ...headers };
    if (this.cookies.size) h['cookie'] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (form) {
      h['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const r = await request(url, { method: form ? 'POST' : 'GET', headers: h, dispatcher: agent, ...(body !== undefined ? { body } : {}) });
    const set = r.headers['set-cookie'];
    for (const c of set === undefined ? [] : Array.isArray(set) ? set : [set]) {
      const semi = c.indexOf(';');
      const pair = semi === -1 ? c : c.slice(0, semi);
      const i = pair.indexOf('=');
      const name = pair.slice(0, i);
      const value = pair.slice(i + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const loc = r.headers['location'];
    return { status: r.statusCode, location: typeof loc === 'string' ? new URL(loc, url).toString() : undefined, body: await r.body.text() };
  }

  /** Follows redirects while they stay on the issuer. */
  async follow(first: Res): Promise<Res> {
    let r = first;
    for (let i = 0; i < 10 && r.location?.startsWith(fx.issuer); i++) r = await this.send(r.location);
    return r;
  }

  /** Posts the page's form for `action` with its CSRF token. */
  post(html: string, action: string, fields: Record<string, string>): Promise<Res> {
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
    const target = new RegExp(`action="([^"]*/${action})"`).exec(html)?.[1];
    if (csrf === undefined || target === undefined) throw new Error(`no ${action} form in the page: ${html.slice(0, 200)}`);
    return this.send(new URL(target.replace(/&amp;/g, '&'), fx.issuer).toString(), { csrf, ...fields });
  }
}

/**
 * Users and the TOTP steps they have spent: RFC 6238 §5.2 lets each code through once,
 * and the node accepts the current step ±1, so a user signs in at most with the current
 * and the next step (the previous one could expire on the way). A user is never in two
 * sign-ins at once, so codes reach the node in order.
 */
const lastStep = fx.users.map(() => stepOf(Date.now()) - 1);
const busy = fx.users.map(() => false);
let cursor = 0;
let starvedMs = 0;

async function takeUser(): Promise<{ i: number; step: number }> {
  for (;;) {
    const now = stepOf(Date.now());
    for (let k = 0; k < fx.users.length; k++) {
      const i = (cursor + k) % fx.users.length;
      if (busy[i] || lastStep[i]! >= now + 1) continue;
      cursor = i + 1;
      busy[i] = true;
      const step = Math.max(lastStep[i]! + 1, now);
      lastStep[i] = step;
      return { i, step };
    }
    // Every user has spent the next step: wait (and report it) rather than reuse a code.
    const t = performance.now();
    await new Promise((r) => setTimeout(r, 50));
    starvedMs += performance.now() - t;
  }
}

async function signIn(): Promise<void> {
  const { i, step } = await takeUser();
  try {
    const user = fx.users[i]!;
    const c = new Client();
    const verifier = randomBytes(32).toString('base64url');
    const url = new URL(`${fx.issuer}/oauth2/authorize`);
    url.search = new URLSearchParams({
      client_id: fx.clientId,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      state: randomBytes(16).toString('base64url'),
      resource: AUDIENCE,
    }).toString();
    let r = await c.follow(await c.send(url.toString()));
    if (!r.body.includes('Sign in')) throw new Error(`expected the sign-in page, got ${r.status} ${r.location ?? ""} ${r.body.slice(0, 200)}`);
    r = await c.post(r.body, 'login', { email: user.email, password: PASSWORD });
    if (!r.body.includes('Second step')) throw new Error(`expected the second step, got ${r.status} ${r.body.slice(0, 200)}`);
    r = await c.follow(await c.post(r.body, 'mfa', { factor: 'totp', code: codeAt(user.totpSecret, step) }));
    if (r.body.includes('Allow access?')) r = await c.follow(await c.post(r.body, 'consent', {}));
    if (!r.location?.startsWith(REDIRECT)) throw new Error(`expected a redirect to the app, got ${r.status} ${r.body.slice(0, 200)}`);
    const code = new URL(r.location).searchParams.get('code');
    if (code === null) throw new Error(`no code in ${r.location}`);
    const t = await c.send(`${fx.issuer}/oauth2/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, resource: AUDIENCE }, { authorization: basic });
    if (t.status !== 200 || !t.body.includes('"access_token"')) throw new Error(`token endpoint: ${t.status} ${t.body.slice(0, 200)}`);
  } finally {
    busy[i] = false;
  }
}

/** Runs sign-ins for `ms`, `concurrency` at a time; the rate counts every one started in the window, over the time until the last ends. */
async function run(ms: number) {
  starvedMs = 0;
  let ok = 0;
  let failed = 0;
  const errors = new Set<string>();
  const latencies: number[] = [];
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        try {
          await signIn();
          ok++;
          latencies.push(performance.now() - s);
        } catch (e) {
          failed++;
          if (errors.size < 5) errors.add(e instanceof Error ? e.message : String(e));
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(1));
  return { ok, failed, seconds, perSecond: ok / seconds, p50Ms: pct(0.5), p99Ms: pct(0.99), starvedMs: Math.round(starvedMs), errors: [...errors] };
}

const lines = createInterface({ input: process.stdin });
process.stdout.write('READY\n');
for await (const line of lines) {
  const m = /^run (\d+)$/.exec(line.trim());
  if (!m) continue;
  process.stdout.write(`RESULT ${JSON.stringify(await run(Number(m[1])))}\n`);
}
await agent.close();
