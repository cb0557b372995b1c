/**
 * Admin API schemas for users and their sign-in sessions. Named in `schemas.ts`
 * (requestSchemas/responseSchemas) so the OpenAPI document describes them. No response
 * carries a password, a hash, a factor secret or a session id (sessions are named by
 * a hash of their id).
 */
import { z } from 'zod';
import { nextAfter } from './page.js';

const isoTime = z.string().describe('RFC 3339 time');

export const CreateUserRequest = z
  .strictObject({
    email: z.string().min(3).max(320).describe('E-mail address; unique after trimming, NFKC and lower-casing.'),
    password: z.string().min(1).max(1024).optional().describe('Initial password (NIST SP 800-63B rules: 8+ characters, not common or breached). Omit it to send an invite instead.'),
    invite: z.boolean().default(false).describe('Create an invite link with which the user chooses a password (valid 7 days, once).'),
    mfa_required: z.boolean().default(false).describe('Require a second factor at every sign-in of this user.'),
  })
  .refine((b) => !(b.invite && b.password !== undefined), { message: 'give either password or invite, not both', path: ['invite'] })
  .describe('Adds a user.');

export const User = z.strictObject({
  id: z.string().describe('Stable user id: the `sub` of the user’s tokens.'),
  email: z.string(),
  status: z.enum(['active', 'disabled']),
  mfa_required: z.boolean(),
  factors: z.array(z.string()).describe('The second factors the user can sign in with: totp, email, sms, recovery-code, webauthn (only when a key is not suspended).'),
  unusable_factors: z
    .array(z.string())
    .describe(
      'What the user holds and cannot sign in with. A confirmed enrolment of a factor this node does not offer (e.g. sms after `identity.otp.channel` became email): it makes the sign-in fail with mfa.factor-unavailable until `reset-mfa` removes it. `webauthn_suspended`: a key is suspended (a suspected clone, see `webauthn_credentials[].suspended_at`); it signs in no more but still counts as the account\'s second factor (the password never stands alone); the user removes it, or `reset-mfa` does. With every key suspended, `webauthn` is not in `factors`.',
    ),
  passkeys: z.number().int().describe('Registered WebAuthn credentials, suspended ones included.'),
  webauthn_credentials: z
    .array(
      z.strictObject({
        id: z.string().describe('Credential id (base64url).'),
        name: z.string().describe('The name the user gave the key.'),
        created_at: isoTime,
        last_used_at: isoTime.nullable().describe('Last sign-in with the key; null when never used.'),
        suspended_at: isoTime
          .nullable()
          .describe('When the key was suspended: an assertion whose signature verified carried a signature counter that went back (a suspected clone, `webauthn.credential-suspended`). It no longer signs in and is not offered; the user removes it and registers a new one, or `reset-mfa` removes it. Null when not suspended.'),
      }),
    )
    .describe('The user\'s security keys and passkeys, oldest first (never a public key or counter).'),
  tokens_revoked_before: isoTime.nullable().describe('Tokens of the user issued before this time are revoked.'),
  created_at: isoTime,
  updated_at: isoTime,
});

export const UserResponse = z.strictObject({ user: User });
export const UserList = z.strictObject({ users: z.array(User), next_after: nextAfter });
export const UserCreated = z.strictObject({
  user: User,
  invite_url: z.string().nullable().describe('The invite link (shown once); null when a password was given or no invite was asked for.'),
  invite_expires_at: isoTime.nullable(),
});
export const UserInvite = z.strictObject({ user: User, invite_url: z.string().describe('Shown once.'), invite_expires_at: isoTime });
export const UserRemoved = z.strictObject({ deleted: z.literal(true), id: z.string() });

export const UserSession = z.strictObject({
  id: z.string().describe('Handle of the session (a hash of its id; the id itself is the browser’s cookie and is never shown).'),
  created_at: isoTime,
  expires_at: isoTime.nullable(),
  apps: z.array(z.string()).describe('client_ids the user signed in to in this session.'),
  amr: z.array(z.string()).describe('How the user signed in (RFC 8176): pwd, otp, hwk, user…'),
});
export const UserSessionList = z.strictObject({ sessions: z.array(UserSession), next_after: nextAfter });
export const SessionEnded = z.strictObject({ ended: z.literal(true), id: z.string() });

export const AddressLockout = z.strictObject({
  address: z.string().describe('The client address, in its canonical spelling (an IPv4-mapped IPv6 address is its IPv4 address).'),
  counted_as: z.string().describe('What its attempts are counted (and locked) under: the address, or for IPv6 its prefix (`identity.lockout.ipv6Prefix`, e.g. `2001:db8:1:2::/64`), which every address in it shares.'),
  failures: z.number().int().describe('Failed sign-in attempts counted against the address in the current window.'),
  locked: z.boolean().describe('Whether the address is locked (every attempt from it refused until `blocked_until`).'),
  blocked_until: isoTime.nullable().describe('Until when attempts from the address are refused (lock or growing delay); null when they are not.'),
});

export const userRequestSchemas = { CreateUserRequest } as const;
export const userResponseSchemas = { User, UserResponse, UserList, UserCreated, UserInvite, UserRemoved, UserSession, UserSessionList, SessionEnded, AddressLockout } as const;
