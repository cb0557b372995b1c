/**
 * One-time codes by e-mail or SMS as a second factor. Enrolment sends a code to the
 * new address, which the user confirms; sign-in sends a code to the confirmed
 * address. Enrolment and sign-in codes are kept apart (and a sign-in code is good only
 * in the sign-in it was sent for, `FactorSubject.attempt`), and a code is good only while
 * the enrolment it was sent to is the one on file (`boundTo`). Sends are throttled so the
 * factor cannot be used to flood a phone or pump SMS: per user, one per
 * `resendIntervalMs` and `maxSendsPerHour` in any 60 minutes (a sliding window, so no
 * burst either side of a clock hour doubles it); and, for enrolment (an address nobody has
 * proven yet, which any account could name), the same per address, whichever account asks.
 * Sign-in codes go to a confirmed address and are not counted per address, so naming a
 * victim's address at enrolment cannot stop the victim's own sign-in codes.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import type { EphemeralStore } from '../../core/ephemeral.js';
import { PortcullisError } from '../../core/errors.js';
import { changedMeanwhile, maskAddress, type ChallengeOutput, type EnrollInput, type EnrollOutput, type Factor, type FactorSubject } from '../factor.js';
import type { EnrollmentStore, FactorEnrollment } from '../store.js';
import type { OneTimeCodes } from './codes.js';
import { isEmailAddress, type OtpChannel, type OtpSender } from './senders/sender.js';

export interface OtpFactorDeps {
  store: EnrollmentStore;
  ephemeral: EphemeralStore;
  codes: OneTimeCodes;
  sender: OtpSender;
  clock: Clock;
}

export interface OtpFactorOptions {
  /** `email` or `sms`; also the factor id. */
  channel: OtpChannel;
  /** Names the service in the message. */
  issuer: string;
  /** Minimum time between two sends to one user, and between two enrolment sends to one address (default 30 s). */
  resendIntervalMs?: number;
  /** Most codes sent to one user, and at enrolment to one address, in any 60 minutes (default 10). */
  maxSendsPerHour?: number;
}

const HOUR = 3_600_000;

/** A send taken from the budgets, given back when the provider did not take the code. */
interface SendTicket {
  slots: string[];
  /** Events in the hourly windows: key and id. */
  windows: [string, string][];
}

const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * What a code is sent for: the enrolment's address as it stood then (its `createdAt` tells
 * a re-enrolment apart). A code is accepted only while the enrolment is the same, so one
 * sent to an address since replaced or removed proves nothing about the one on file.
 */
const boundTo = (e: FactorEnrollment): string => `${e.createdAt}\0${String(e.data.address)}`;

export class OtpFactor implements Factor {
  readonly id: OtpChannel;
  readonly amr: readonly string[];

  constructor(
    private readonly deps: OtpFactorDeps,
    private readonly options: OtpFactorOptions,
  ) {
    this.id = options.channel;
    // RFC 8176: `sms` for a code by text message; `otp` for a one-time code in general.
    this.amr = options.channel === 'sms' ? ['sms', 'otp'] : ['otp'];
  }

  async enroll(input: EnrollInput): Promise<EnrollOutput> {
    const address = input.address?.trim() ?? '';
    if (!(this.id === 'email' ? isEmailAddress(address) : E164.test(address))) {
      throw new PortcullisError('request.invalid', this.id === 'email' ? 'expected an e-mail address' : 'expected a phone number in E.164 form (+15551234567)');
    }
    const existing = await this.deps.store.getEnrollment(input.userId, this.id);
    if (existing?.status === 'confirmed') throw new PortcullisError('mfa.already-enrolled', `${this.id} codes are already set up for this user`);
    // Throttled before the pending address is replaced: a refused send must leave the
    // code already sent bound to the address it was sent to, never to one never proven.
    const ticket = await this.takeSendSlot(input.userId, address);
    const pending: FactorEnrollment = { userId: input.userId, factorId: this.id, status: 'pending', data: { address }, createdAt: this.deps.clock.now(), confirmedAt: null };
    if (!(await this.deps.store.putPendingEnrollment(pending))) {
      // confirmed since it was read above (another tab or node): that address stays, and the new one gets no code
      await this.giveBack(ticket);
      throw new PortcullisError('mfa.already-enrolled', `${this.id} codes are already set up for this user`);
    }
    const sent = await this.send(ticket, this.slot(input.userId, 'enroll'), pending, 'enroll');
    return { factorId: this.id, pendingConfirmation: true, sentTo: sent.sentTo, expiresAt: sent.expiresAt };
  }

  async confirm(subject: FactorSubject, code: string): Promise<void> {
    const e = await this.deps.store.getEnrollment(subject.userId, this.id);
    if (!e) throw new PortcullisError('mfa.not-enrolled', `start a ${this.id} enrolment first`);
    if (e.status === 'confirmed') throw new PortcullisError('mfa.already-enrolled', `${this.id} codes are already set up for this user`);
    await this.deps.codes.verify(this.slot(subject.userId, 'enroll'), code, boundTo(e));
    // the enrolment the code was sent for, unless removed or started again meanwhile
    if (!(await this.deps.store.confirmEnrollment(e, this.deps.clock.now()))) throw await changedMeanwhile(this.deps.store, e, `${this.id} codes are already set up for this user`);
  }

  async challenge(subject: FactorSubject): Promise<ChallengeOutput> {
    const e = await this.confirmed(subject.userId);
    const ticket = await this.takeSendSlot(subject.userId);
    const sent = await this.send(ticket, this.slot(subject.userId, 'sign-in', subject.attempt), e, 'sign-in');
    return { sent: true, sentTo: sent.sentTo, expiresAt: sent.expiresAt };
  }

  async verify(subject: FactorSubject, code: string): Promise<void> {
    const e = await this.confirmed(subject.userId);
    await this.deps.codes.verify(this.slot(subject.userId, 'sign-in', subject.attempt), code, boundTo(e));
  }

  async isEnrolled(userId: string): Promise<boolean> {
    return (await this.deps.store.getEnrollment(userId, this.id))?.status === 'confirmed';
  }

  async remove(userId: string): Promise<void> {
    await this.deps.store.deleteEnrollment(userId, this.id);
    await Promise.all([this.deps.codes.revoke(this.slot(userId, 'enroll')), this.deps.codes.revoke(this.slot(userId, 'sign-in'))]);
  }

  /** Where a code lives: per channel, purpose and user, and for a sign-in per sign-in (the code is good in that one only). */
  private slot(userId: string, purpose: 'enroll' | 'sign-in', attempt?: string): string {
    return attempt === undefined ? `${this.id}:${purpose}:${userId}` : `${this.id}:${purpose}:${userId}:${encodeURIComponent(attempt)}`;
  }

  private async confirmed(userId: string): Promise<FactorEnrollment> {
    const e = await this.deps.store.getEnrollment(userId, this.id);
    if (e?.status !== 'confirmed') throw new PortcullisError('mfa.not-enrolled', `${this.id} codes are not set up for this user`);
    return e;
  }

  /**
   * Takes one send from the user's budget and, for an enrolment, from `address`'s budget:
   * one per `resendIntervalMs`, `maxSendsPerHour` in the last 60 minutes. Throws `auth.throttled`,
   * having taken nothing (a refused ask sends nothing, so it holds no budget back).
   */
  private async takeSendSlot(userId: string, address?: string): Promise<SendTicket> {
    const interval = this.options.resendIntervalMs ?? 30_000;
    const perHour = this.options.maxSendsPerHour ?? 10;
    const whose = [userId];
    // the address is hashed: the ephemeral store holds no phone numbers or e-mail addresses
    if (address !== undefined) whose.push(`to:${createHash('sha256').update(address.toLowerCase()).digest('base64url')}`);
    const ticket: SendTicket = { slots: [], windows: [] };
    for (const w of whose) {
      const key = `mfa:otp-send:${this.id}:${w}`;
      if (!(await this.deps.ephemeral.consumeOnce(key, interval))) {
        await this.giveBack(ticket);
        throw new PortcullisError('auth.throttled', 'a code was sent a moment ago; wait before asking for another', { details: { retryAfterMs: interval } });
      }
      ticket.slots.push(key);
    }
    for (const w of whose) {
      const key = `mfa:otp-sends:${this.id}:${w}`;
      const r = await this.deps.ephemeral.takeInWindow(key, HOUR, perHour);
      if (!r.taken) {
        await this.giveBack(ticket);
        throw new PortcullisError('auth.throttled', 'too many codes were sent in the last hour; wait before asking for another', { details: { retryAfterMs: r.retryAfterMs } });
      }
      ticket.windows.push([key, r.id]);
    }
    return ticket;
  }

  /** Nothing was handed over, so nothing to pump: the user may ask again at once. */
  private async giveBack(ticket: SendTicket): Promise<void> {
    await Promise.all([
      ...ticket.slots.map((k) => this.deps.ephemeral.delete(k).catch(() => undefined)),
      ...ticket.windows.map(([k, id]) => this.deps.ephemeral.releaseInWindow(k, id).catch(() => undefined)),
    ]);
  }

  /** Sends a fresh code for `slot` to the enrolment's address, bound to it (the send slot is already taken). */
  private async send(ticket: SendTicket, slot: string, e: FactorEnrollment, purpose: 'enroll' | 'sign-in'): Promise<{ sentTo: string; expiresAt: number }> {
    const address = String(e.data.address);
    const { code, expiresAt } = await this.deps.codes.issue(slot, boundTo(e));
    const minutes = Math.round(this.deps.codes.ttlMs / 60_000);
    const text = `${code} is your ${this.options.issuer} verification code. It expires in ${minutes} minutes. Do not share it.`;
    try {
      await this.deps.sender.send({ channel: this.id, to: address, code, purpose, expiresAt, subject: `Your ${this.options.issuer} verification code`, text });
    } catch (e) {
      await this.deps.codes.revoke(slot);
      await this.giveBack(ticket);
      if (e instanceof PortcullisError) throw e;
      throw new PortcullisError('mfa.delivery-failed', `the ${this.id} code could not be sent`, { cause: e });
    }
    return { sentTo: maskAddress(address), expiresAt };
  }
}
