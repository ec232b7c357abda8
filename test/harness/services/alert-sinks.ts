import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnDaemon, stopPidFile, waitForPort } from '../daemon';
import type { SandboxLayout } from '../layout';

/** One POST the webhook sink received. */
export interface ReceivedWebhook {
  receivedAt: string;
  path: string;
  body: { text: string; tego?: { notificationId: string; kind: string; incidentId: string | null; level: number | null; contact: string | null; rule?: string; target?: string; priority?: string } };
}

/** One mail the SMTP sink received; `subject` may be RFC 2047-encoded when it is not ASCII. */
export interface ReceivedMail {
  receivedAt: string;
  from: string | null;
  to: string[];
  subject: string;
  raw: string;
}

/** The webhook URL the sandbox's inventory points alerts at (through the secret variable). */
export function alertWebhookUrl(layout: SandboxLayout): string {
  return `http://127.0.0.1:${layout.ports.alertWebhook}/services/sandbox`;
}

/** Starts the webhook and SMTP receivers (test/harness/alert-sink-server.ts) as a daemon. */
export async function startAlertSinks(layout: SandboxLayout): Promise<void> {
  await spawnDaemon({
    command: process.execPath,
    args: ['--import', 'tsx', join(__dirname, '..', 'alert-sink-server.ts'), layout.paths.alerts, String(layout.ports.alertWebhook), String(layout.ports.smtp)],
    logFile: join(layout.paths.logs, 'alert-sinks.log'),
    pidFile: join(layout.paths.pids, 'alert-sinks.pid'),
  });
  await waitForPort(layout.ports.alertWebhook, 'alert webhook sink');
  await waitForPort(layout.ports.smtp, 'SMTP sink');
}

export async function stopAlertSinks(layout: SandboxLayout): Promise<void> {
  await stopPidFile(join(layout.paths.pids, 'alert-sinks.pid'));
}

async function readLines<T>(file: string): Promise<T[]> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as T);
}

export function receivedWebhooks(layout: SandboxLayout): Promise<ReceivedWebhook[]> {
  return readLines(join(layout.paths.alerts, 'webhook.jsonl'));
}

export function receivedMails(layout: SandboxLayout): Promise<ReceivedMail[]> {
  return readLines(join(layout.paths.alerts, 'mail.jsonl'));
}
