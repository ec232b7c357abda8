import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import type { ChangeRecord } from '../../activities/change-records';
import { weekdays } from '../../workflows/change-window';
import { approveSignal, abortSignal, changeStatusQuery, pauseSignal, rejectSignal, resumeSignal } from '../../workflows/change-signals';
import { progressQuery } from '../../workflows/progress';
import type { RestartReport } from '../../workflows/restart-service';
import { waitUntil } from '../harness/daemon';
import { dockerSocket } from '../harness/services/docker-engine';
import { primaryClient } from '../harness/postgres-data';
import { useSandbox } from '../harness/suite';
import { uniqueId } from '../harness/temporal-client';

const suite = useSandbox();
const docker = new Docker({ socketPath: dockerSocket });
const containerOf = (service: string, host: string, index = 1) => `${suite.sandbox.containerNamePrefix}${service}-${host}-${index}`;
const startedAt = async (container: string) => (await docker.getContainer(container).inspect()).State.StartedAt;

function startRestart(input: Record<string, unknown>): Promise<WorkflowHandle> {
  return suite.client.workflow.start('restartServiceWorkflow', { taskQueue: 'ops', workflowId: uniqueId('restart'), args: [input] });
}

async function changeRecord(workflowId: string): Promise<ChangeRecord & Record<string, unknown>> {
  const db = primaryClient(suite.sandbox, 'tego_ops');
  await db.connect();
  try {
    const { rows } = await db.query<ChangeRecord & Record<string, unknown>>('SELECT * FROM tego_ops.change_records WHERE workflow_id = $1', [workflowId]);
    expect(rows).toHaveLength(1);
    return rows[0];
  } finally {
    await db.end();
  }
}

const phaseOf = async (handle: WorkflowHandle) => (await handle.query(progressQuery)).phase;
const failureOf = async (handle: WorkflowHandle) => {
  const failure = await (handle.result() as Promise<unknown>).catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  return (failure as WorkflowFailedError).cause as Error & { type?: string };
};

describe('approval gate', () => {
  it('waits for an approver, ignores anyone else, then restarts each instance healthy and records the change', async () => {
    const container = containerOf('tego-mcp', 'host2');
    const before = await startedAt(container);
    const handle = await startRestart({
      service: 'tego-mcp',
      approval: { required: true, approvers: ['alice'], timeout: '10m' },
      requestedBy: 'bob',
      changeId: `CHG-${Date.now()}`,
      reason: 'memory leak, per the guide',
    });
    await waitUntil(async () => (await phaseOf(handle)).startsWith('waiting for approval by alice'), 30_000, 200, 'the approval wait');

    await handle.signal(approveSignal, { by: 'mallory' });
    await waitUntil(async () => (await handle.query(changeStatusQuery)).ignored.length === 1, 10_000, 200, 'the stray approval to be noted');
    const status = await handle.query(changeStatusQuery);
    expect(status.ignored).toEqual(['approval by mallory: mallory is not an approver (approvers: alice)']);
    expect(status.approval).toMatchObject({ required: true, approvers: ['alice'], decision: null });
    expect(await startedAt(container)).toBe(before);

    await handle.signal(approveSignal, { by: 'alice', comment: 'go' });
    const report = (await handle.result()) as RestartReport;
    expect(report).toEqual({ service: 'tego-mcp', restarted: [container] });
    expect(await startedAt(container)).not.toBe(before);

    const record = await changeRecord(handle.workflowId);
    expect(record).toMatchObject({
      kind: 'restart-service',
      target: 'service:tego-mcp',
      requested_by: 'bob',
      reason: 'memory leak, per the guide',
      approved_by: 'alice',
      approval_comment: 'go',
      outcome: 'succeeded',
      summary: `restarted 1 of 1 instances: ${container}`,
    });
    expect(record.inputs_digest).toMatch(/^[0-9a-f]{64}$/);
    expect((record.changes as { step: string; status: string }[]).map((c) => `${c.status} ${c.step}`)).toEqual([
      `done restart ${container}`,
      `done wait until ${container} is healthy`,
    ]);

    // Labelled for the UI's list: search attributes and memo.
    const listed = [];
    for await (const run of suite.client.workflow.list({ query: `TegoKind = 'restart-service' AND TegoChangeId = '${status.changeId}'` })) listed.push(run);
    expect(listed.map((r) => r.workflowId)).toEqual([handle.workflowId]);
    expect(listed[0].memo).toMatchObject({ kind: 'restart-service', target: 'service:tego-mcp', summary: 'memory leak, per the guide' });
  });

  it('a rejection ends the change with nothing touched, recorded as rejected', async () => {
    const container = containerOf('tego-llm', 'host1');
    const before = await startedAt(container);
    const handle = await startRestart({ service: 'tego-llm', approval: { required: true }, requestedBy: 'bob' });
    await waitUntil(async () => (await phaseOf(handle)).startsWith('waiting for approval'), 30_000, 200, 'the approval wait');
    await handle.signal(approveSignal, { by: 'bob' }); // the requester may not approve their own change
    await handle.signal(rejectSignal, { by: 'carol', comment: 'not during the launch' });
    const cause = await failureOf(handle);
    expect(cause.type).toBe('ChangeRejected');
    expect(cause.message).toBe(`change ${handle.workflowId} rejected by carol: not during the launch; nothing was changed`);
    expect(await startedAt(container)).toBe(before);
    expect(await changeRecord(handle.workflowId)).toMatchObject({ outcome: 'rejected', approved_by: null, summary: 'rejected by carol: not during the launch; nothing was changed' });
    expect((await handle.query(changeStatusQuery)).ignored).toEqual(['approval by bob: bob requested this change and cannot also approve it']);
  });

  it('no decision in time is a rejection', async () => {
    const handle = await startRestart({ service: 'tego-llm', approval: { required: true, timeout: '2s' } });
    const cause = await failureOf(handle);
    expect(cause.type).toBe('ChangeRejected');
    expect(cause.message).toMatch(/not approved within 2s; nothing was changed$/);
    expect(await changeRecord(handle.workflowId)).toMatchObject({ outcome: 'rejected' });
  });
});

describe('change window, pause and abort', () => {
  it('waits for a closed window with a durable timer, touching nothing; a cancel ends it recorded', async () => {
    const container = containerOf('tego-llm', 'host1');
    const before = await startedAt(container);
    const today = weekdays[new Date().getUTCDay()];
    const tomorrow = weekdays[(new Date().getUTCDay() + 1) % 7];
    // Open all day, but only on days other than today and tomorrow (UTC): closed now, whatever the hour.
    const days = weekdays.filter((d) => d !== today && d !== tomorrow);
    const handle = await startRestart({ service: 'tego-llm', window: { days, start: '00:00', end: '23:59', timeZone: 'UTC' } });
    await waitUntil(async () => (await phaseOf(handle)).startsWith('waiting for the change window'), 30_000, 200, 'the window wait');
    const status = await handle.query(changeStatusQuery);
    expect(status.window).toMatchObject({ open: false });
    expect(Date.parse(status.window!.nextOpening!)).toBeGreaterThan(Date.now() + 24 * 3600_000);
    expect((await handle.query(progressQuery)).steps).toEqual([]);
    await handle.cancel();
    await failureOf(handle);
    expect(await startedAt(container)).toBe(before);
    expect(await changeRecord(handle.workflowId)).toMatchObject({ outcome: 'cancelled', summary: 'cancelled' });
  });

  it('pause holds before the next step, resume lets it go on; abort stops it before any change', async () => {
    const containers = [containerOf('tego-os', 'host1', 1), containerOf('tego-os', 'host1', 2), containerOf('tego-os', 'host2', 1)];
    const before = await Promise.all(containers.map(startedAt));
    const paused = await startRestart({ service: 'tego-os', approval: { required: true }, requestedBy: 'bob' });
    await waitUntil(async () => (await phaseOf(paused)).startsWith('waiting for approval'), 30_000, 200, 'the approval wait');
    await paused.signal(pauseSignal, { by: 'alice' });
    await paused.signal(approveSignal, { by: 'alice' });
    await waitUntil(async () => (await phaseOf(paused)) === 'paused', 30_000, 200, 'the change to hold');
    expect(await Promise.all(containers.map(startedAt))).toEqual(before);
    await paused.signal(resumeSignal, { by: 'alice' });
    expect(((await paused.result()) as RestartReport).restarted).toEqual(containers);
    const after = await Promise.all(containers.map(startedAt));
    after.forEach((time, i) => expect(time).not.toBe(before[i]));

    const aborted = await startRestart({ service: 'tego-os', approval: { required: true }, requestedBy: 'bob' });
    await waitUntil(async () => (await phaseOf(aborted)).startsWith('waiting for approval'), 30_000, 200, 'the approval wait');
    await aborted.signal(pauseSignal, { by: 'alice' });
    await aborted.signal(approveSignal, { by: 'alice' });
    await waitUntil(async () => (await phaseOf(aborted)) === 'paused', 30_000, 200, 'the change to hold');
    await aborted.signal(abortSignal, { by: 'alice', comment: 'wrong service' });
    const cause = await failureOf(aborted);
    expect(cause.type).toBe('ChangeAborted');
    expect(cause.message).toBe('aborted by alice: wrong service');
    expect(await Promise.all(containers.map(startedAt))).toEqual(after);
    expect(await changeRecord(aborted.workflowId)).toMatchObject({ outcome: 'cancelled', approved_by: 'alice' });
  });
});

describe('bad requests', () => {
  it('an unknown service fails at once, non-retryable, with nothing recorded', async () => {
    const handle = await startRestart({ service: 'tego-nope' });
    const cause = await failureOf(handle);
    expect(cause.type).toBe('UnknownTarget');
    expect(cause.message).toBe('unknown service tego-nope (services: tego-os, tego-os-server, tego-mcp, tego-llm)');
    const db = primaryClient(suite.sandbox, 'tego_ops');
    await db.connect();
    const { rows } = await db.query('SELECT 1 FROM tego_ops.change_records WHERE workflow_id = $1', [handle.workflowId]);
    await db.end();
    expect(rows).toEqual([]);
  });

  it('a malformed window is InvalidInput naming the field', async () => {
    const handle = await startRestart({ service: 'tego-os', window: { start: '02:00', end: '4am', timeZone: 'Mars/Olympus' } });
    const cause = await failureOf(handle);
    expect(cause.type).toBe('InvalidInput');
    expect(cause.message).toContain('window.end: expected a 24-hour time like "02:00"');
    expect(cause.message).toContain('window.timeZone: expected an IANA time zone like "Asia/Shanghai"');
  });
});
