/**
 * A minimal SMTP server (RFC 5321 subset: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
 * QUIT) on 127.0.0.1 port 0 that records each received message, for testing the SMTP
 * sender without a mail server. `rejectData` makes it refuse messages with 554. It
 * offers no STARTTLS and no AUTH (both answered 502); `commands` lists the verbs it got.
 * `stall` makes it hold new connections: `greeting` accepts and never answers; `ehlo`
 * greets, then answers EHLO with a multi-line reply that never ends (one `250-` line
 * every 50 ms, activity that keeps every idle timeout from firing).
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface ReceivedMail {
  from: string;
  to: string[];
  data: string;
}

export interface MiniSmtpServer {
  port: number;
  received: ReceivedMail[];
  rejectData: boolean;
  /** The verb of every command received, in order (`EHLO`, `AUTH`, `MAIL`, …). */
  commands: string[];
  stall: 'greeting' | 'ehlo' | undefined;
  /** Connections the client ended or reset. */
  closedByClient: number;
  close(): Promise<void>;
}

export async function startMiniSmtpServer(): Promise<MiniSmtpServer> {
  const sockets = new Set<Socket>();
  const state: MiniSmtpServer = { port: 0, received: [], rejectData: false, commands: [], stall: undefined, closedByClient: 0, close: async () => undefined };
  let closing = false;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    let drip: NodeJS.Timeout | undefined;
    let ended = false;
    const byClient = () => {
      if (!ended && !closing) state.closedByClient++;
      ended = true;
    };
    socket.on('end', byClient);
    socket.on('close', () => {
      byClient();
      clearInterval(drip);
      sockets.delete(socket);
    });
    socket.on('error', () => undefined);
    socket.setEncoding('utf8');
    let buffer = '';
    let inData = false;
    let mail: ReceivedMail = { from: '', to: [], data: '' };
    const reply = (line: string) => socket.write(`${line}\r\n`);
    const stall = state.stall;
    if (stall === 'greeting') return void socket.resume();
    reply('220 mini-smtp ready');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          mail.data = buffer.slice(0, end).replace(/^\.\./gm, '.');
          buffer = buffer.slice(end + 5);
          inData = false;
          if (state.rejectData) reply('554 5.7.1 rejected');
          else {
            state.received.push(mail);
            reply('250 2.0.0 queued');
          }
          mail = { from: '', to: [], data: '' };
          continue;
        }
        const nl = buffer.indexOf('\r\n');
        if (nl < 0) return;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        state.commands.push(line.split(' ')[0]!.toUpperCase());
        if (stall === 'ehlo' && verb === 'EHLO') {
          let n = 0;
          drip = setInterval(() => reply(`250-mini-smtp-${n++}`), 50);
        } else if (verb === 'EHLO' || verb === 'HELO') reply('250 mini-smtp');
        else if (verb === 'MAIL') {
          mail.from = /<([^>]*)>/.exec(line)?.[1] ?? '';
          reply('250 2.1.0 ok');
        } else if (verb === 'RCPT') {
          mail.to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
          reply('250 2.1.5 ok');
        } else if (verb === 'DATA') {
          inData = true;
          reply('354 end with <CRLF>.<CRLF>');
        } else if (verb === 'RSET') {
          mail = { from: '', to: [], data: '' };
          reply('250 ok');
        } else if (verb === 'NOOP') reply('250 ok');
        else if (verb === 'QUIT') {
          reply('221 bye');
          socket.end();
        } else reply('502 5.5.1 not implemented');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as { port: number }).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      closing = true;
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}
