import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import nodemailer from 'nodemailer';
import { alertSilencesWorkflowId, matchingSilence, silencesQuery, type Silence, type SilenceLabels } from '../workflows/alert-silences';
import { ErrorType } from '../workflows/error-types';
import type { ActivityDeps } from './deps';
import { describeError } from './probe-result';

export const NotificationKind = {
  firing: 'firing',
  repeat: 'repeat',
  escalation: 'escalation',
  resolved: 'resolved',
  /** Not an alert: the daily inspection's summary. Never silenced. */
  report: 'report',
} as const;
export type NotificationKind = (typeof NotificationKind)[keyof typeof NotificationKind];

export interface Notification {
  /**
   * Stable across retries of the same notification: delivery is at least once (a worker that dies between
   * sending and recording it sends it again), so receivers drop repeats by this id — the webhook's
   * `tego.notificationId`, the mail's Message-ID.
   */
  id: string;
  kind: NotificationKind;
  /** One line: the chat message's first line and the mail's subject. */
  title: string;
  /** The rest: what was measured, what to do, how to acknowledge. */
  body: string;
  /** Alert notifications: what silences are matched against. */
  labels?: SilenceLabels;
  incidentId?: string;
  /** Escalation level (0 = first contact) and the contact it pages. */
  level?: number;
  contact?: { name: string; email?: string; mention?: string };
  /** @default every configured channel */
  channels?: ('webhook' | 'email')[];
}

export interface NotificationResult {
  delivered: { channel: 'webhook' | 'email'; to: string }[];
  failed: { channel: 'webhook' | 'email'; error: string }[];
  /** A silence matched: nothing was sent. */
  silencedBy?: { id: string; createdBy: string; endsAt: string; comment: string };
}

/**
 * Sends alert notifications and reports through the inventory's channels: a Slack-compatible incoming
 * webhook (`{"text": …}`, which Slack, Mattermost and Rocket.Chat accept) and e-mail over SMTP.
 */
export function createNotifyActivities(deps: ActivityDeps) {
  return {
    /**
     * Sends one notification on every channel of its route, unless a silence matches its labels.
     * Channels that failed are reported, not retried once another channel delivered (a retry would send
     * that one twice).
     * @throws ApplicationFailure `NotificationFailed` (retryable) when no channel delivered
     * @throws ApplicationFailure `InvalidConfig` (non-retryable) when no channel is configured
     */
    async notify(notification: Notification): Promise<NotificationResult> {
      const alerts = deps.inventory.alerts;
      if (notification.labels && notification.kind !== NotificationKind.report) {
        const silence = matchingSilence(await currentSilences(deps), notification.labels, Date.now());
        if (silence) {
          return {
            delivered: [],
            failed: [],
            silencedBy: { id: silence.id, createdBy: silence.createdBy, endsAt: silence.endsAt, comment: silence.comment },
          };
        }
      }
      const configured = [...(alerts.webhookUrlEnv ? (['webhook'] as const) : []), ...(alerts.email ? (['email'] as const) : [])];
      const channels = configured.filter((c) => !notification.channels || notification.channels.includes(c));
      if (channels.length === 0) {
        throw ApplicationFailure.nonRetryable(
          `no notification channel configured${notification.channels ? ` among ${notification.channels.join(', ')}` : ''}: set alerts.webhookUrlEnv or alerts.email`,
          ErrorType.InvalidConfig,
        );
      }
      const result: NotificationResult = { delivered: [], failed: [] };
      await Promise.all(
        channels.map(async (channel) => {
          try {
            const to = channel === 'webhook' ? await postWebhook(deps, notification) : await sendMail(deps, notification);
            result.delivered.push({ channel, to });
          } catch (err) {
            result.failed.push({ channel, error: describeError(err) });
          }
        }),
      );
      if (result.delivered.length === 0) {
        throw ApplicationFailure.retryable(
          `no channel delivered: ${result.failed.map((f) => `${f.channel}: ${f.error}`).join('; ')}`,
          ErrorType.NotificationFailed,
        );
      }
      return result;
    },
  };
}

/** The silences in force; none when the silences workflow has never been started. */
async function currentSilences(deps: ActivityDeps): Promise<Silence[]> {
  const client = await deps.temporal();
  try {
    return await client.workflow.getHandle(alertSilencesWorkflowId).query(silencesQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return [];
    throw err;
  }
}

async function postWebhook(deps: ActivityDeps, notification: Notification): Promise<string> {
  const url = deps.secret(deps.inventory.alerts.webhookUrlEnv!, 'alerts.webhookUrlEnv');
  const mention = notification.contact?.mention ?? notification.contact?.name;
  const text = `${mention && notification.kind !== NotificationKind.report ? `${mention} ` : ''}*${notification.title}*\n${notification.body}`;
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    // `tego` carries the same facts for receivers that route on them; chat services ignore it.
    body: JSON.stringify({
      text,
      tego: {
        notificationId: notification.id,
        kind: notification.kind,
        incidentId: notification.incidentId ?? null,
        level: notification.level ?? null,
        contact: notification.contact?.name ?? null,
        ...(notification.labels ?? {}),
      },
    }),
    signal: AbortSignal.timeout(10_000),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`webhook answered HTTP ${response.status}`);
  return new URL(url).host;
}

async function sendMail(deps: ActivityDeps, notification: Notification): Promise<string> {
  const email = deps.inventory.alerts.email!;
  const transport = nodemailer.createTransport({
    host: email.smtpHost,
    port: email.smtpPort,
    secure: email.secure,
    connectionTimeout: 5_000,
    greetingTimeout: 5_000,
    socketTimeout: 15_000,
    ...(email.usernameEnv && email.passwordEnv
      ? { auth: { user: deps.secret(email.usernameEnv, 'alerts.email.usernameEnv'), pass: deps.secret(email.passwordEnv, 'alerts.email.passwordEnv') } }
      : {}),
  });
  const to = [...new Set([...email.to, ...(notification.contact?.email ? [notification.contact.email] : [])])];
  try {
    await transport.sendMail({
      from: email.from,
      to,
      subject: notification.title,
      messageId: `<${notification.id.replace(/[^A-Za-z0-9.#_-]/g, '.')}@tego-ops>`,
      text: notification.body,
      headers: notification.incidentId ? { 'X-Tego-Incident': notification.incidentId } : {},
    });
  } finally {
    transport.close();
  }
  return to.join(', ');
}
