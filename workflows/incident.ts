import { ParentClosePolicy, condition, log, proxyActivities, setHandler, startChild, workflowInfo } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import type { IncidentEvent } from '../activities/change-records';
import type { Notification, NotificationKind, NotificationResult } from '../activities/notify';
import type { TopologyView } from '../inventory/topology';
import { ActivityPresets } from './activity-options';
import type { Alert, Remediation } from './alert-rules';
import { msOf } from './durations';
import { rootMessage } from './failures';
import { healthGate } from './gates';
import { onHostQueue } from './host-queues';
import { ackSignal, incidentStatusQuery, observeSignal, type IncidentStatus } from './incident-signals';
import { labelRun } from './run-labels';

const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);
/**
 * A channel that is down is retried for a few minutes; then the incident notes it and carries on. A send
 * takes seconds (its own timeouts are 10–15 s), so one past 30 s was on a worker that died.
 */
const notifier = proxyActivities<SharedActivities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
const audit = proxyActivities<SharedActivities>(ActivityPresets.record);

type Route = TopologyView['alerting']['routes'][number];
/** A priority the inventory gives no route for is paged the P1 way. */
const fallbackRoute = { notifyWithin: '0s', escalateAfter: '15m', repeatEvery: '1h' } as const;

/**
 * One incident per alert dedup key (PagerDuty's incident, Grafana OnCall's escalation): opened by the
 * health patrol with signal-with-start, it
 *   1. notifies by the route of its priority (the guide's timings: P0/P1 at once, P2 within 5 minutes,
 *      P3 within 15 minutes — an alert that clears sooner pages no one);
 *   2. tries the remediation policy allows, once: restart the container and wait for its health, or start
 *      the failover workflow (with approval unless policy says automatic); a failed remediation escalates;
 *   3. reminds the current contact every `repeatEvery` and pages the next contact every `escalateAfter`
 *      until someone sends `ack`;
 *   4. stays quiet while a silence matches or a P0 on the same service inhibits it;
 *   5. sends a resolved notice when the patrol sees the alert clear, and ends.
 * Every step is appended to the audit table (tego_ops.incident_events).
 */
export async function incidentWorkflow(input: { alert: Alert }): Promise<IncidentStatus> {
  const info = workflowInfo();
  const incidentId = `${info.workflowId}/${info.firstExecutionRunId.slice(0, 8)}`;
  let alert = input.alert;
  labelRun({ kind: 'incident', target: alert.dedupKey, summary: `${alert.priority} ${alert.summary}` });

  const openedAt = new Date();
  const status: IncidentStatus = { incidentId, alert, state: 'firing', openedAt: openedAt.toISOString(), level: 0, notifications: [] };
  let resolved = false;
  /** Set by a failed remediation: page the next contact now rather than at the next timer. */
  let escalateNow = false;
  /** Signals received: a change wakes the main loop. */
  let news = 0;
  /** When the next notification is due. */
  let nextAt = Number.MAX_SAFE_INTEGER;

  // The audit trail: events are kept here and written in order; a write that fails (the database may be
  // the incident) is retried with the next event, and once more at the end.
  const events: IncidentEvent[] = [];
  let written = 0;
  let writing: Promise<void> | undefined;
  function record(event: string, detail: Record<string, unknown> = {}, actor?: string): void {
    events.push({ seq: events.length + 1, at: new Date().toISOString(), event, ...(actor ? { actor } : {}), detail });
    writing ??= flushAudit().finally(() => (writing = undefined));
  }
  async function flushAudit(): Promise<void> {
    while (written < events.length) {
      const batch = events.slice(written);
      try {
        await audit.recordIncidentEvents({ incidentId, dedupKey: alert.dedupKey, priority: alert.priority, events: batch });
        written += batch.length;
      } catch (err) {
        log.warn('incident events not written yet', { incidentId, error: (err as Error).message });
        return;
      }
    }
  }

  // First, before the handlers: the patrol's first observation is delivered as soon as one is set.
  record('opened', { summary: alert.summary, description: alert.description, rule: alert.rule, target: alert.target });
  setHandler(incidentStatusQuery, () => status);
  setHandler(observeSignal, (observation) => {
    news += 1;
    if (!observation.firing) {
      resolved = true;
      return;
    }
    alert = observation.alert;
    status.alert = alert;
    if (observation.inhibitedBy !== status.inhibitedBy) {
      record(observation.inhibitedBy ? 'inhibited' : 'uninhibited', { by: observation.inhibitedBy ?? status.inhibitedBy });
      // No longer muted: what was held back is due now.
      if (!observation.inhibitedBy) nextAt = Math.min(nextAt, Date.now());
    }
    status.inhibitedBy = observation.inhibitedBy;
  });
  setHandler(ackSignal, ({ by, comment }) => {
    news += 1;
    if (status.acknowledged || resolved) return;
    status.acknowledged = { by, at: new Date().toISOString(), ...(comment ? { comment } : {}) };
    status.state = 'acknowledged';
    record('acknowledged', { ...(comment ? { comment } : {}) }, by);
  });

  const topology = await probe.describeTopology();
  const { contacts } = topology.alerting;
  const routeOf = (priority: string): Route | typeof fallbackRoute => topology.alerting.routes.find((r) => r.priority === priority) ?? fallbackRoute;

  async function send(kind: NotificationKind): Promise<NotificationResult | undefined> {
    const route = routeOf(alert.priority);
    const contact = contacts[Math.min(status.level, contacts.length - 1)];
    const notification: Notification = {
      id: `${incidentId}#${status.notifications.length + 1}`,
      kind,
      title: titleOf(kind, alert, contact?.name, status.level),
      body: bodyOf(alert, status, incidentId),
      labels: { rule: alert.rule, target: alert.target, priority: alert.priority, ...(alert.service ? { service: alert.service } : {}) },
      incidentId,
      level: status.level,
      ...(contact ? { contact } : {}),
      ...('channels' in route && route.channels ? { channels: route.channels } : {}),
    };
    const at = new Date().toISOString();
    try {
      const result = await notifier.notify(notification);
      status.notifications.push({
        at,
        kind,
        level: status.level,
        delivered: result.delivered.map((d) => `${d.channel}:${d.to}`),
        ...(result.silencedBy ? { silencedBy: result.silencedBy.id } : {}),
        ...(result.failed.length ? { failed: result.failed.map((f) => `${f.channel}: ${f.error}`).join('; ') } : {}),
      });
      record(result.silencedBy ? 'silenced' : `notified:${kind}`, { level: status.level, contact: contact?.name ?? null, ...result });
      return result;
    } catch (err) {
      const failed = (err as Error).message;
      status.notifications.push({ at, kind, level: status.level, delivered: [], failed });
      record('notification-failed', { kind, level: status.level, error: failed });
      return undefined;
    }
  }

  if (alert.remediation) {
    void remediate(alert.remediation, topology).then((fixed) => {
      if (!fixed) escalateNow = true;
    });
  }

  let notified = false; // a firing notification reached someone: the resolved notice is owed
  let levelSince = Date.now();
  nextAt = Math.min(nextAt, openedAt.getTime() + msOf(routeOf(alert.priority).notifyWithin));
  while (!resolved) {
    const seen = news;
    if (status.acknowledged) {
      await condition(() => resolved);
      continue;
    }
    await condition(() => resolved || news !== seen || escalateNow, Math.max(nextAt - Date.now(), 1));
    if (resolved || status.acknowledged) continue;
    const forced = escalateNow;
    escalateNow = false;
    const now = Date.now();
    if (!forced && now < nextAt) continue;
    const route = routeOf(alert.priority);
    if (status.inhibitedBy) {
      nextAt = now + msOf(route.repeatEvery);
      continue;
    }
    let kind: NotificationKind = 'firing';
    if (notified) {
      const escalationDue = forced || now - levelSince >= msOf(route.escalateAfter);
      if (escalationDue && status.level < contacts.length - 1) {
        status.level += 1;
        levelSince = now;
        kind = 'escalation';
      } else {
        kind = 'repeat';
      }
    }
    const result = await send(kind);
    if (result?.silencedBy) {
      nextAt = Math.min(Date.parse(result.silencedBy.endsAt), now + msOf(route.repeatEvery));
      continue;
    }
    if (result && !notified) {
      notified = true;
      levelSince = now;
    }
    const nextEscalation = status.level < contacts.length - 1 ? levelSince + msOf(route.escalateAfter) : Infinity;
    nextAt = Math.min(now + msOf(route.repeatEvery), nextEscalation);
  }

  status.state = 'resolved';
  status.resolvedAt = new Date().toISOString();
  record('resolved', { after: `${Math.round((Date.now() - openedAt.getTime()) / 1000)} s` });
  if (notified) await send('resolved');
  await writing;
  await flushAudit();
  if (written < events.length) log.error('incident audit trail incomplete', { incidentId, unwritten: events.length - written });
  return status;

  /** Tries the one fix policy allows; true when it fixed the problem (or handed it to a workflow that will). */
  async function remediate(remediation: Remediation, view: TopologyView): Promise<boolean> {
    if (remediation.kind === 'restart-container') {
      const action = `restart ${remediation.container} on ${remediation.host}`;
      status.remediation = { action, outcome: 'running' };
      record('remediation-started', { action });
      const host = view.hosts.find((h) => h.name === remediation.host);
      try {
        if (!host) throw new Error(`host ${remediation.host} is no longer in the inventory`);
        await onHostQueue(host.taskQueue).restartContainer({
          host: remediation.host,
          container: remediation.container,
          notBefore: new Date().toISOString(),
          stopTimeoutSeconds: 10,
        });
        const gate = healthGate(Math.max(30_000, remediation.healthTimeoutMs * 10));
        await gate.requireHealthy({ url: remediation.healthUrl, timeoutMs: remediation.healthTimeoutMs });
        status.remediation = { action, outcome: 'fixed', detail: 'healthy again after one restart' };
        record('remediation-fixed', { action });
        return true;
      } catch (err) {
        const detail = `still unhealthy after one restart: ${rootMessage(err)}`;
        status.remediation = { action, outcome: 'failed', detail };
        record('remediation-failed', { action, detail });
        return false;
      }
    }
    const policy = view.alerting.remediation.failover;
    const action = `start db-failover of ${remediation.node}${policy === 'approval' ? ', waiting for approval' : ''}`;
    try {
      const child = await startChild('dbFailoverWorkflow', {
        workflowId: `db-failover-${info.workflowId}-${info.firstExecutionRunId.slice(0, 8)}`,
        // The failover outlives the incident: it ends when it has run, not when the page is resolved.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        args: [
          {
            requestedBy: `incident ${incidentId}`,
            reason: alert.summary,
            ...(policy === 'approval' ? { approval: { required: true, timeout: '1h' } } : {}),
          },
        ],
      });
      const detail = policy === 'approval' ? `approve with: tego-ops approve ${child.workflowId} --by <you>` : `running as ${child.workflowId}`;
      status.remediation = { action, outcome: 'started', detail };
      record('remediation-started', { action, workflowId: child.workflowId });
      return true;
    } catch (err) {
      status.remediation = { action, outcome: 'failed', detail: rootMessage(err) };
      record('remediation-failed', { action, detail: rootMessage(err) });
      return false;
    }
  }
}

function titleOf(kind: NotificationKind, alert: Alert, contact: string | undefined, level: number): string {
  const label = { firing: 'FIRING', repeat: 'STILL FIRING', escalation: `ESCALATED to ${contact ?? 'next contact'} (level ${level + 1})`, resolved: 'RESOLVED', report: 'REPORT' }[kind];
  return `[${alert.priority}] ${label}: ${alert.summary}`;
}

function bodyOf(alert: Alert, status: IncidentStatus, incidentId: string): string {
  return [
    alert.description,
    status.remediation ? `Auto-remediation (${status.remediation.action}): ${status.remediation.outcome}${status.remediation.detail ? ` — ${status.remediation.detail}` : ''}` : '',
    status.acknowledged ? `Acknowledged by ${status.acknowledged.by} at ${status.acknowledged.at}` : '',
    `Incident ${incidentId}, open since ${status.openedAt}. Acknowledge: tego-ops ack ${alert.dedupKey} --by <you>`,
  ]
    .filter(Boolean)
    .join('\n');
}
