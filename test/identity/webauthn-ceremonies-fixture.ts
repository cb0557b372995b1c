/**
 * The WebAuthn ceremonies over a real SQLite store (a temporary file), an in-memory ephemeral
 * store and an in-memory audit sink, for the ceremony-level attack tests; `newUser` adds an
 * active user. Call at the top of a test file: it registers its own before/after hooks.
 */
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/audit/sink.js';
import { systemClock } from '../../src/core/clock.js';
import { WebAuthnCeremonies } from '../../src/identity/pages/webauthn.js';
import type { UserRecord } from '../../src/identity/store.js';
import { openDurableStore, type DurableStore } from '../../src/store/index.js';
import { MemoryEphemeralStore } from '../../src/store/memory/ephemeral.js';

export const RP_ID = 'login.example.test';
export const ORIGIN = `https://${RP_ID}`;

export interface CeremoniesFixture {
  readonly store: DurableStore;
  readonly ephemeral: MemoryEphemeralStore;
  readonly audit: MemoryAuditSink;
  readonly ceremonies: WebAuthnCeremonies;
  newUser(): Promise<UserRecord>;
}

/** @param name a short name for the temporary directory and the users' ids (`usr_<name>1`, `<name>1@example.test`) */
export function ceremoniesFixture(name: string): CeremoniesFixture {
  const dir = mkdtempSync(join(tmpdir(), `pc-webauthn-${name}-`));
  let store: DurableStore | undefined;
  let ephemeral: MemoryEphemeralStore | undefined;
  let audit: MemoryAuditSink | undefined;
  let ceremonies: WebAuthnCeremonies | undefined;
  let n = 0;
  before(async () => {
    store = await openDurableStore(`sqlite:${join(dir, 'p.db')}`);
    ephemeral = new MemoryEphemeralStore();
    audit = new MemoryAuditSink();
    ceremonies = new WebAuthnCeremonies(store, ephemeral, systemClock, { rpId: RP_ID, rpName: 'Portcullis', origin: ORIGIN }, audit);
  });
  after(async () => {
    await ephemeral?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the WebAuthn fixture is used before its before() hook ran');
    return v;
  };
  return {
    get store() {
      return ready(store);
    },
    get ephemeral() {
      return ready(ephemeral);
    },
    get audit() {
      return ready(audit);
    },
    get ceremonies() {
      return ready(ceremonies);
    },
    async newUser() {
      const now = Date.now();
      const i = ++n;
      const u: UserRecord = { id: `usr_${name}${i}`, email: `${name}${i}@example.test`, emailNormalized: `${name}${i}@example.test`, status: 'active', mfaRequired: false, tokensRevokedBefore: 0, createdAt: now, updatedAt: now };
      await ready(store).createUser(u);
      return u;
    },
  };
}
