/**
 * Standalone CA benchmark (`node --import tsx bench/pki.ts`): leaf certificates issued
 * per second (one thread, then one worker per core, each with its own issuing CA on an
 * in-memory store: the figure is the ASN.1 + signature cost, not the database), and
 * OCSP responses per second served from the responder's cache. Targets (issue 6):
 * >= 1,000 issued/s on 2 cores, >= 10,000 OCSP/s from cache.
 */
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { systemClock } from '../src/core/clock.js';
import { createHierarchy } from '../src/pki/hierarchy.js';
import { issueCertificate } from '../src/pki/issue.js';
import { openIssuingCa, signingView } from '../src/pki/issuing-ca.js';
import { MemoryCertificateStore } from '../src/pki/memory-store.js';
import { OcspResponder } from '../src/pki/ocsp.js';
import { SignerRegistry, fileSignerKind, type SecretBox } from '../src/pki/signer.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function box(): SecretBox {
  const key = randomBytes(32);
  return {
    async seal(plain, aad) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(aad));
      const ct = Buffer.concat([c.update(plain), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url');
    },
    async open(sealed, aad) {
      const b = Buffer.from(sealed, 'base64url');
      const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, 12)).setAAD(Buffer.from(aad));
      d.setAuthTag(b.subarray(12, 28));
      return new Uint8Array(Buffer.concat([d.update(b.subarray(28)), d.final()]));
    },
  };
}

async function setup() {
  const store = new MemoryCertificateStore();
  const kind = fileSignerKind(box());
  await createHierarchy({ store, signerKind: kind, clock: systemClock, urlBase: 'https://127.0.0.1:8080', trustDomain: 'example.org' });
  const ca = await openIssuingCa(store, new SignerRegistry([kind]), 'https://127.0.0.1:8080');
  return { store, ca, ctx: { store, clock: systemClock, ca, trustDomain: 'example.org' } };
}

/** Issues client certificates for `ms` with `inflight` concurrent requests (P-256 key generated per leaf, as the admin API does). */
async function issueFor(ms: number, inflight: number): Promise<number> {
  const { ctx } = await setup();
  let n = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (performance.now() < end) {
        await issueCertificate(ctx, { profile: 'client', clientId: `app-${n}` });
        n++;
      }
    }),
  );
  return n;
}

if (!isMainThread) {
  const n = await issueFor((workerData as { ms: number }).ms, 8);
  parentPort!.postMessage(n);
} else {
  const MS = Number(process.env.PKI_BENCH_MS ?? 3000);
  await issueFor(500, 8); // warm-up
  // CPU per certificate: the figure that survives a shared machine (absolute rates drift with load).
  const c0 = process.cpuUsage();
  const issuedOne = await issueFor(MS, 8);
  const c1 = process.cpuUsage(c0);
  const one = issuedOne / (MS / 1000);
  const threads = Math.max(2, availableParallelism());
  const counts = await Promise.all(
    Array.from({ length: threads }, () => new Promise<number>((resolve, reject) => {
      // tsx is registered inside the worker (execArgv --import does not reach worker threads on Node 20)
      const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
      const w = new Worker(boot, { eval: true, workerData: { ms: MS } });
      // Fail loudly instead of hanging when a worker dies or stalls (seen once on a loaded machine).
      const stall = setTimeout(() => void w.terminate().then(() => reject(new Error('issuance worker stalled'))), MS + 60_000);
      w.once('message', (n: number) => {
        clearTimeout(stall);
        resolve(n);
      });
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`issuance worker exited (code ${code}) without a count`)));
    })),
  );
  const workers = counts.reduce((a, b) => a + b, 0) / (MS / 1000);

  // OCSP from cache: one request (no nonce), answered repeatedly.
  const { store, ca, ctx } = await setup();
  const leaf = await issueCertificate(ctx, { profile: 'client', clientId: 'ocsp' });
  const dir = mkdtempSync(join(tmpdir(), 'pki-bench-'));
  writeFileSync(join(dir, 'leaf.pem'), leaf.certPem);
  writeFileSync(join(dir, 'inter.pem'), ca.chainPem.slice(0, ca.chainPem.indexOf('-----BEGIN', 1)));
  execFileSync('openssl', ['ocsp', '-issuer', join(dir, 'inter.pem'), '-cert', join(dir, 'leaf.pem'), '-no_nonce', '-reqout', join(dir, 'req.der')]);
  const req = new Uint8Array((await import('node:fs')).readFileSync(join(dir, 'req.der')));
  const responder = new OcspResponder(store, systemClock, signingView(ca));
  await responder.respond(req);
  let m = 0;
  const o0 = process.cpuUsage();
  const end = performance.now() + MS;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) await responder.respond(req);
    m += 1000;
  }
  const o1 = process.cpuUsage(o0);
  const ocsp = m / (MS / 1000);
  const result = {
    issue_per_s_one_thread: Math.round(one),
    issue_cpu_us_per_cert: Math.round((c1.user + c1.system) / issuedOne),
    issue_per_s_workers: Math.round(workers),
    workers: threads,
    ocsp_cached_per_s: Math.round(ocsp),
    ocsp_cached_cpu_us: Number(((o1.user + o1.system) / m).toFixed(2)),
    targets: { issue_per_s: 1000, ocsp_cached_per_s: 10000 },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
