/**
 * The second factors a user holds, read one way for the sign-in pages, the account page
 * and the admin user view, so they cannot disagree on what counts:
 * - the configured factors with an enrolment (recovery codes among them: a fallback,
 *   never a factor of their own);
 * - the user's passkeys and security keys; a suspended one (a suspected clone, its
 *   signature counter went back) still counts as the account's second factor, so the
 *   password alone never stands in for it, but it is not usable: it is not offered at
 *   sign-in and does not keep an account with required MFA usable;
 * - confirmed enrolments of factors this deployment no longer offers (an
 *   `identity.otp.channel` switch): "stranded". They still count as the account's second
 *   factor, so the password alone never stands in for one, but they cannot be used: the
 *   sign-in refuses with `mfa.factor-unavailable` and `reset-mfa` removes them.
 */
import type { Factor } from '../mfa/factor.js';
import type { EnrollmentStore } from '../mfa/store.js';
import type { WebAuthnCredentialRecord, WebAuthnStore } from './store.js';

export interface FactorInventoryDeps {
  factors: readonly Factor[];
  passkeys: Pick<WebAuthnStore, 'listWebAuthnCredentials'>;
  enrollments: Pick<EnrollmentStore, 'listEnrollments'>;
}

export interface FactorInventory {
  /** Configured factors the user is enrolled in, recovery codes included. */
  enrolled: Factor[];
  passkeys: WebAuthnCredentialRecord[];
  /** Factor ids of confirmed enrolments that no configured factor serves. */
  stranded: string[];
}

/**
 * @example
 * const inv = await factorInventory({ factors, passkeys: store, enrollments: store }, userId);
 * if (!hasSecondFactor(inv)) … // the password alone may stand (enrolment step)
 */
export async function factorInventory(d: FactorInventoryDeps, userId: string): Promise<FactorInventory> {
  const enrolled: Factor[] = [];
  for (const f of d.factors) if (await f.isEnrolled(userId)) enrolled.push(f);
  const passkeys = await d.passkeys.listWebAuthnCredentials(userId);
  const stranded = (await d.enrollments.listEnrollments(userId)).filter((e) => e.status === 'confirmed' && !d.factors.some((f) => f.id === e.factorId)).map((e) => e.factorId);
  return { enrolled, passkeys, stranded };
}

/** Whether the account has a second factor, usable or stranded (recovery codes alone are none). */
export function hasSecondFactor(inv: FactorInventory): boolean {
  return inv.enrolled.some((f) => f.id !== 'recovery-code') || inv.passkeys.length > 0 || inv.stranded.length > 0;
}

/** The passkeys and security keys the user can sign in with: those not suspended. */
export function usablePasskeys(inv: Pick<FactorInventory, 'passkeys'>): WebAuthnCredentialRecord[] {
  return inv.passkeys.filter((k) => k.suspendedAt === null);
}

/** The second factors the user can sign in with, as the account page's remove form names them (`totp`, `webauthn:<id>`, …): never a suspended key. */
export function usableSecondFactors(inv: FactorInventory): string[] {
  return [...inv.enrolled.filter((f) => f.id !== 'recovery-code').map((f) => f.id), ...usablePasskeys(inv).map((k) => `webauthn:${k.id}`)];
}
