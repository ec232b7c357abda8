/**
 * The sandbox's notification receivers, run as a daemon: a Slack-compatible incoming webhook and an
 * SMTP server (smtp-server, the SMTP implementation Nodemailer's authors maintain). Each notification
 * received is appended as one JSON line to `<dir>/webhook.jsonl` or `<dir>/mail.jsonl`, where tests and
 * people (`tail -f`) read them.
 *
 * Usage: tsx test/harness/alert-sink-server.ts <dir> <webhook-port> <smtp-port>
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

const [dir, webhookPort, smtpPort] = process.argv.slice(2);
if (!dir || !webhookPort || !smtpPort) {
  console.error('usage: alert-sink-server.ts <dir> <webhook-port> <smtp-port>');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
const append = (file: string, record: unknown) => appendFileSync(join(dir, file), `${JSON.stringify(record)}\n`);

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      res.writeHead(400).end('invalid_payload');
      return;
    }
    append('webhook.jsonl', { receivedAt: new Date().toISOString(), path: req.url, body });
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok'); // what Slack answers
  });
}).listen(Number(webhookPort), '127.0.0.1');

new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const subject = /^Subject: (.*(?:\r?\n[ \t].*)*)/m.exec(raw)?.[1].replace(/\r?\n[ \t]/g, ' ') ?? '';
      append('mail.jsonl', {
        receivedAt: new Date().toISOString(),
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
        to: session.envelope.rcptTo.map((r) => r.address),
        subject,
        raw,
      });
      callback();
    });
  },
}).listen(Number(smtpPort), '127.0.0.1');

console.log(`alert sinks: webhook on ${webhookPort}, SMTP on ${smtpPort}, writing to ${dir}`);
