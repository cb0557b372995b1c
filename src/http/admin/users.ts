/**
 * Admin routes for users: add (with a password or an invite link), list, show,
 * disable/enable, delete, reset their second factors, unlock after failed attempts,
 * list and end their sign-in sessions. Ending sessions (one, or all) revokes the
 * tokens issued in them at every gateway; ending all moves the user's watermark.
 * Client addresses are locked after repeated failures too (the per-address limit of
 * identity/lockout.ts); `/v1/lockouts/addresses/:address` shows and lifts such a lock.
 */
import type { Services } from '../../app.js';
import { PortcullisError } from '../../core/errors.js';
import { canonicalAddress } from '../../identity/lockout.js';
import { INVITE_PATH } from '../../identity/invites.js';
import type { UserRecord } from '../../identity/store.js';
import { createdPage, page, PageQuery } from './page.js';
import { defineRoute, type AdminRoute } from './route.js';
import { AddressLockout, CreateUserRequest, SessionEnded, UserCreated, UserInvite, UserList, UserRemoved, UserResponse, UserSessionList } from './user-schemas.js';

const ACTOR = 'admin';

export function userRoutes(s: Services): AdminRoute[] {
  const { users, invites, oidc, lockout } = s.identity;
  const durable = async <T>(result: T): Promise<T> => {
    await s.audit.flush();
    return result;
  };
  const inviteUrl = (token: string): string => `${s.config.issuer.replace(/\/$/, '')}${INVITE_PATH}/${token}`;
  const view = (u: UserRecord) => users.view(u);
  const userAction = (action: 'disable' | 'enable' | 'reset-mfa' | 'end-sessions' | 'unlock', operationId: string, summary: string) =>
    defineRoute({
      method: 'POST',
      path: `/v1/users/:id/${action}`,
      operationId,
      summary,
      tag: 'users',
      auth: true,
      responses: { 200: { description: 'The user after the change.', schema: UserResponse } },
      errors: [404],
      async handler({ params }) {
        const id = (await users.find(params.id!)).id;
        let u: UserRecord;
        switch (action) {
          case 'disable':
            u = await users.disable(id, ACTOR);
            break;
          case 'enable':
            u = await users.enable(id, ACTOR);
            break;
          case 'end-sessions':
            u = await users.endAllSessions(id, ACTOR);
            break;
          case 'reset-mfa':
            await users.resetMfa(id, ACTOR);
            u = await users.get(id);
            break;
          case 'unlock':
            await lockout.unlockAccount(id);
            s.audit.record({ time: s.clock.now(), type: 'user.unlocked', actor: ACTOR, data: { userId: id } });
            u = await users.get(id);
            break;
        }
        return durable({ body: { user: await view(u) } });
      },
    });

  /** The canonical spelling of the `:address` parameter, or `request.invalid`. */
  const addressParam = (text: string): string => {
    const a = canonicalAddress(text);
    if (a === undefined) throw new PortcullisError('request.invalid', 'address: not an IPv4 or IPv6 address', { details: { errors: [{ path: 'address', message: 'not an IPv4 or IPv6 address' }] } });
    return a;
  };
  const addressView = async (address: string) => {
    const st = await lockout.state('ip', address);
    return { address, counted_as: lockout.countedAs(address), failures: st.failures, locked: st.locked, blocked_until: st.blockedUntil > 0 ? new Date(st.blockedUntil).toISOString() : null };
  };

  return [
    defineRoute({
      method: 'GET',
      path: '/v1/lockouts/addresses/:address',
      operationId: 'getAddressLockout',
      summary: 'Show the failed-attempt count and lock of a client address (IPv4 or IPv6).',
      tag: 'users',
      auth: true,
      responses: { 200: { description: 'The address’s state.', schema: AddressLockout } },
      errors: [400],
      async handler({ params }) {
        return { body: await addressView(addressParam(params.address!)) };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/lockouts/addresses/:address/unlock',
      operationId: 'unlockAddress',
      summary: 'Clear the failed-attempt lock, delays and count of a client address; sign-ins from it are accepted again.',
      tag: 'users',
      auth: true,
      responses: { 200: { description: 'The address’s state after the unlock.', schema: AddressLockout } },
      errors: [400],
      async handler({ params }) {
        const address = addressParam(params.address!);
        await lockout.unlockIp(address);
        s.audit.record({ time: s.clock.now(), type: 'signin.unlocked', actor: ACTOR, data: { subject: 'address', ip: address } });
        return durable({ body: await addressView(address) });
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/users',
      operationId: 'createUser',
      summary: 'Add a user, with a password or an invite link (shown in this response only).',
      tag: 'users',
      auth: true,
      body: CreateUserRequest,
      responses: { 201: { description: 'Added.', schema: UserCreated } },
      errors: [400, 409],
      async handler({ body }) {
        const u = await users.add({ email: body.email, ...(body.password !== undefined ? { password: body.password } : {}), mfaRequired: body.mfa_required }, ACTOR);
        const invite = body.invite ? await invites.create(u.id) : undefined;
        if (invite) s.audit.record({ time: s.clock.now(), type: 'user.invited', actor: ACTOR, data: { userId: u.id } });
        return durable({
          status: 201,
          body: { user: await view(u), invite_url: invite ? inviteUrl(invite.token) : null, invite_expires_at: invite ? new Date(invite.expiresAt).toISOString() : null },
        });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/users',
      operationId: 'listUsers',
      summary: 'List users, a page at a time (never a password, hash or factor secret).',
      tag: 'users',
      auth: true,
      query: PageQuery,
      responses: { 200: { description: 'A page of users, oldest first.', schema: UserList } },
      errors: [400],
      async handler({ query }) {
        const { rows, next_after } = await createdPage(query, (p) => users.list(p), (u) => [u.createdAt, u.id]);
        return { body: { users: await Promise.all(rows.map(view)), next_after } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/users/:id',
      operationId: 'getUser',
      summary: 'Show one user, by id or e-mail address.',
      tag: 'users',
      auth: true,
      responses: { 200: { description: 'The user.', schema: UserResponse } },
      errors: [404],
      async handler({ params }) {
        return { body: { user: await view(await users.find(params.id!)) } };
      },
    }),
    userAction('disable', 'disableUser', 'Disable a user: sign-in is refused, every session ends and every token of the user stops working.'),
    userAction('enable', 'enableUser', 'Enable a disabled user (tokens revoked meanwhile stay revoked).'),
    userAction('reset-mfa', 'resetUserMfa', 'Remove every second factor and passkey of the user; they enrol again at their next sign-in if MFA is required.'),
    userAction('end-sessions', 'endUserSessions', 'End every sign-in session of the user; every token issued to the user so far stops working at every gateway.'),
    userAction('unlock', 'unlockUser', 'Clear the failed-attempt lock and delays of the user’s account.'),
    defineRoute({
      method: 'POST',
      path: '/v1/users/:id/invite',
      operationId: 'inviteUser',
      summary: 'Create a new invite link with which the user chooses a password (shown in this response only).',
      tag: 'users',
      auth: true,
      responses: { 200: { description: 'The invite.', schema: UserInvite } },
      errors: [403, 404],
      async handler({ params }) {
        const u = await users.find(params.id!);
        // a disabled user's links are void (UserService.disable), and so would this one be
        if (u.status !== 'active') throw new PortcullisError('user.disabled', 'the user is disabled: enable the user first, then create the invite');
        const invite = await invites.create(u.id);
        s.audit.record({ time: s.clock.now(), type: 'user.invited', actor: ACTOR, data: { userId: u.id } });
        return durable({ body: { user: await view(u), invite_url: inviteUrl(invite.token), invite_expires_at: new Date(invite.expiresAt).toISOString() } });
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/v1/users/:id',
      operationId: 'deleteUser',
      summary: 'Delete a user with their password, factors and passkeys; their sessions end and their tokens stop working.',
      tag: 'users',
      auth: true,
      responses: { 200: { description: 'Deleted.', schema: UserRemoved } },
      errors: [404],
      async handler({ params }) {
        const id = (await users.find(params.id!)).id;
        await users.delete(id, ACTOR);
        return durable({ body: { deleted: true, id } });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/users/:id/sessions',
      operationId: 'listUserSessions',
      summary: 'List the sign-in sessions of a user (one per browser), newest first, a page at a time.',
      tag: 'users',
      auth: true,
      query: PageQuery,
      responses: { 200: { description: 'A page of the sessions, newest first.', schema: UserSessionList } },
      errors: [400, 404],
      async handler({ params, query }) {
        const u = await users.find(params.id!);
        // a user's sessions live in oidc-provider's records, their sign-in time inside the payload: paged here
        const { rows, next_after } = page(await oidc.listSessions(u.id), (x) => [x.createdAt, x.handle], query, true);
        return {
          body: {
            sessions: rows.map((x) => ({
              id: x.handle,
              created_at: new Date(x.createdAt).toISOString(),
              expires_at: x.expiresAt === null ? null : new Date(x.expiresAt).toISOString(),
              apps: x.clients,
              amr: x.amr,
            })),
            next_after,
          },
        };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/v1/users/:id/sessions/:sid',
      operationId: 'endUserSession',
      summary: 'End one sign-in session of a user: its grants and the tokens issued under them are revoked.',
      tag: 'users',
      auth: true,
      responses: { 200: { description: 'Ended.', schema: SessionEnded } },
      errors: [404],
      async handler({ params }) {
        const u = await users.find(params.id!);
        if (!(await oidc.endSessionByHandle(u.id, params.sid!))) {
          throw new PortcullisError('not-found', 'no such session of this user');
        }
        s.audit.record({ time: s.clock.now(), type: 'user.session-ended', actor: ACTOR, data: { userId: u.id } });
        return durable({ body: { ended: true, id: params.sid! } });
      },
    }),
  ];
}
