/**
 * A PostgreSQL stand-in that relays to a real server, or refuses every new login as a
 * server whose role's password was changed does (SQLSTATE 28P01, after asking for the
 * password in clear), and counts those logins. The machine's PostgreSQL trusts every
 * connection from 127.0.0.1 (pg_hba `trust`), so a wrong password cannot be shown on it;
 * this speaks just enough of the protocol (v3: SSLRequest, StartupMessage,
 * AuthenticationCleartextPassword, ErrorResponse) for node-postgres to see the real error.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface PgRefuser {
  /** `target` with host and port replaced by the refuser's. */
  url: string;
  /** Logins refused so far. */
  readonly attempts: number;
  /** Refuses every new login and drops every open connection (as a restart of the server would). */
  refuse(): void;
  /** Relays new connections to the real server again. */
  pass(): void;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function authFailed(user: string): Buffer {
  const field = (t: string, v: string): string => `${t}${v}\0`;
  const body = field('S', 'FATAL') + field('V', 'FATAL') + field('C', '28P01') + field('M', `password authentication failed for user "${user}"`) + '\0';
  return message('E', Buffer.from(body, 'utf8'));
}

/** Answers one client as a server that refuses its password; `onLogin` when the password came. */
function refuseLogin(client: Socket, onLogin: () => void): void {
  let buf = Buffer.alloc(0);
  let state: 'startup' | 'password' | 'done' = 'startup';
  let user = '';
  client.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (state === 'startup') {
        if (buf.length < 8) return;
        const len = buf.readInt32BE(0);
        if (buf.length < len) return;
        const code = buf.readInt32BE(4);
        const packet = buf.subarray(0, len);
        buf = buf.subarray(len);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          client.write('N');
          continue;
        }
        const params = packet.subarray(8).toString('utf8').split('\0');
        const at = params.indexOf('user');
        user = at >= 0 ? (params[at + 1] ?? '') : '';
        const ask = Buffer.alloc(4);
        ask.writeInt32BE(3);
        client.write(message('R', ask));
        state = 'password';
      } else if (state === 'password') {
        if (buf.length < 5) return;
        const len = buf.readInt32BE(1);
        if (buf.length < len + 1) return;
        buf = buf.subarray(len + 1);
        state = 'done';
        onLogin();
        client.end(authFailed(user));
        return;
      } else {
        return;
      }
    }
  });
}

/**
 * @example
 * const pg = await openPgRefuser(db.url);
 * const store = await openDurableStore(pg.url);
 * pg.refuse(); // … the next connect fails 28P01
 */
export async function openPgRefuser(target: string): Promise<PgRefuser> {
  const t = new URL(target);
  let mode: 'pass' | 'refuse' = 'pass';
  let attempts = 0;
  const sockets = new Set<Socket>();
  const track = (s: Socket): Socket => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    return s;
  };
  const server = createServer((client) => {
    track(client);
    if (mode === 'refuse') return refuseLogin(client, () => void attempts++);
    const upstream = track(connect(Number(t.port || 5432), t.hostname));
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as { port: number }).port);
  return {
    url: url.toString(),
    get attempts() {
      return attempts;
    },
    refuse: () => {
      mode = 'refuse';
      for (const s of sockets) s.destroy();
    },
    pass: () => {
      mode = 'pass';
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
