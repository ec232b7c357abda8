import { randomBytes } from 'node:crypto';
import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { formatIssues } from '../inventory/format-issues';
import type { Inventory } from '../inventory/schema';
import type { ChangeRecord } from '../activities/change-records';
import {
  abortSignal,
  approveSignal,
  changeStatusQuery,
  pauseSignal,
  rejectSignal,
  resumeSignal,
  type ChangeStatus,
  type Decision,
} from '../workflows/change-signals';
import {
  addSilenceSignal,
  alertSilencesWorkflowId,
  expireSilenceSignal,
  SilenceRequestSchema,
  silencesQuery,
  type Silence,
  type SilenceRequest,
} from '../workflows/alert-silences';
import type { HealthReport } from '../workflows/health-report';
import { ackSignal, incidentStatusQuery, incidentWorkflowId, type IncidentStatus } from '../workflows/incident-signals';
import { progressQuery, type Progress } from '../workflows/progress';
import { RunSearchAttributes } from '../workflows/run-labels';
import { dataConverterFor } from './payload-codec';
import { isManagedChange, WorkflowKinds, type WorkflowInput, type WorkflowKind } from './workflow-kinds';

/** Input rejected before anything was started; `issues` has one field-level line per problem. */
export class InvalidInputError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid input:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'InvalidInputError';
  }
}

/**
 * The programmatic face of tego-ops: start, follow, signal and query its workflows.
 *
 * @example
 * const ops = await OpsClient.connect(await loadInventory('ops.yaml'));
 * const report = await ops.checkHealth();
 * await ops.close();
 */
export class OpsClient {
  private constructor(
    readonly temporal: Client,
    private readonly inventory: Inventory,
  ) {}

  /**
   * Connects to the Temporal server the inventory names, encrypting payloads when the inventory says so.
   * @param env where the payload keys are read from (`temporal.payloadEncryption.keysEnv`)
   * @throws Error naming the address when the server does not answer.
   * @throws PayloadEncryptionError when encryption is configured but its keys are missing or invalid.
   */
  static async connect(inventory: Inventory, env: NodeJS.ProcessEnv = process.env): Promise<OpsClient> {
    const { address, namespace } = inventory.temporal;
    const dataConverter = dataConverterFor(inventory, env);
    let connection: Connection;
    try {
      connection = await Connection.connect({ address, connectTimeout: 5000 });
    } catch (err) {
      throw new Error(`cannot reach the Temporal server at ${address}: ${(err as Error).message}`);
    }
    return new OpsClient(new Client({ connection, namespace, dataConverter }), inventory);
  }

  /**
   * Validates `input` with the kind's schema and starts the workflow on the shared task queue, labelled
   * for the UI (kind and requester as search attributes, a one-line summary). For a managed change,
   * `requestedBy` is filled in from the options when the input names nobody.
   * @throws InvalidInputError before starting anything when the input is invalid.
   */
  async start<K extends WorkflowKind>(
    kind: K,
    input: WorkflowInput<K>,
    options: { workflowId?: string; requestedBy?: string } = {},
  ): Promise<WorkflowHandle> {
    const spec = WorkflowKinds[kind];
    const args = (
      isManagedChange(kind) && options.requestedBy && !(input as { requestedBy?: string } | undefined)?.requestedBy
        ? { ...(input ?? {}), requestedBy: options.requestedBy }
        : (input ?? {})
    );
    const parsed = spec.inputSchema.safeParse(args);
    if (!parsed.success) throw new InvalidInputError(formatIssues(parsed.error));
    const requestedBy = (args as { requestedBy?: string }).requestedBy;
    return this.temporal.workflow.start(spec.workflowType, {
      taskQueue: this.inventory.temporal.taskQueue,
      workflowId: options.workflowId ?? newWorkflowId(kind),
      args: [args],
      typedSearchAttributes: [
        { key: RunSearchAttributes.kind, value: kind },
        ...(requestedBy ? [{ key: RunSearchAttributes.requestedBy, value: requestedBy }] : []),
      ],
      staticSummary: `${kind}${requestedBy ? ` by ${requestedBy}` : ''}`,
      staticDetails: spec.description,
    });
  }

  /** Starts a workflow and waits for its result. */
  async run<R = unknown, K extends WorkflowKind = WorkflowKind>(kind: K, input: WorkflowInput<K>, options: { requestedBy?: string } = {}): Promise<R> {
    const handle = await this.start(kind, input, options);
    return (await handle.result()) as R;
  }

  /** Runs a health check and waits for its report. */
  async checkHealth(input: WorkflowInput<'health'> = {}): Promise<HealthReport> {
    return this.run<HealthReport>('health', input);
  }

  /** Starts a rolling restart of a service (a managed change: approval, window and record apply). */
  async startRestartService(input: WorkflowInput<'restart-service'>, options: { workflowId?: string; requestedBy?: string } = {}): Promise<WorkflowHandle> {
    return this.start('restart-service', input, options);
  }

  /** The change log, newest first. */
  async listChanges(query: WorkflowInput<'changes'> = {}): Promise<ChangeRecord[]> {
    return this.run<ChangeRecord[]>('changes', query);
  }

  /** Approves a change waiting for approval; `by` must be one of its approvers (or anyone but the requester). */
  async approve(workflowId: string, decision: Decision): Promise<void> {
    await this.handle(workflowId).signal(approveSignal, decision);
  }

  /** Rejects a change waiting for approval: it ends without changing anything. */
  async reject(workflowId: string, decision: Decision): Promise<void> {
    await this.handle(workflowId).signal(rejectSignal, decision);
  }

  /** Holds a change before its next step (the running step finishes). */
  async pause(workflowId: string, decision: Decision): Promise<void> {
    await this.handle(workflowId).signal(pauseSignal, decision);
  }

  async resume(workflowId: string, decision: Decision): Promise<void> {
    await this.handle(workflowId).signal(resumeSignal, decision);
  }

  /** Stops a change before its next step and undoes what it did. */
  async abort(workflowId: string, decision: Decision): Promise<void> {
    await this.handle(workflowId).signal(abortSignal, decision);
  }

  /** The steps a run has done and what it is doing now (every tego-ops workflow answers this). */
  async progress(workflowId: string): Promise<Progress> {
    return this.handle(workflowId).query(progressQuery);
  }

  /** Approval, window and pause state of a managed change. */
  async changeStatus(workflowId: string): Promise<ChangeStatus> {
    return this.handle(workflowId).query(changeStatusQuery);
  }

  /**
   * Acknowledges an incident, by its alert's dedup key (`app-instance-down:tego-os-host1-1`) or its
   * workflow id: escalation and repeats stop; the resolved notice still comes.
   * @throws InvalidInputError when no such incident is open.
   */
  async ack(incident: string, ack: { by: string; comment?: string }): Promise<IncidentStatus> {
    const handle = this.handle(incident.startsWith('incident-') ? incident : incidentWorkflowId(incident));
    try {
      if ((await handle.describe()).status.name !== 'RUNNING') throw new InvalidInputError([`incident ${incident} is already closed`]);
      await handle.signal(ackSignal, ack);
      return await handle.query(incidentStatusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new InvalidInputError([`no incident ${incident}: see \`tego-ops incidents\``]);
      throw err;
    }
  }

  /** Every open incident with its state, most urgent first. */
  async listIncidents(): Promise<IncidentStatus[]> {
    const open: IncidentStatus[] = [];
    for await (const run of this.temporal.workflow.list({ query: `TegoKind = 'incident' AND ExecutionStatus = 'Running'` })) {
      open.push(await this.handle(run.workflowId).query(incidentStatusQuery));
    }
    return open.sort((a, b) => a.alert.priority.localeCompare(b.alert.priority) || a.openedAt.localeCompare(b.openedAt));
  }

  /**
   * Silences matching alerts' notifications until `endsAt` (Alertmanager's silence). Starts the silences
   * workflow if it is not running.
   * @throws InvalidInputError naming the field when the request is invalid.
   */
  async addSilence(request: SilenceRequest): Promise<Silence> {
    const parsed = SilenceRequestSchema.safeParse(request);
    if (!parsed.success) throw new InvalidInputError(formatIssues(parsed.error));
    const silence: Silence = { ...parsed.data, id: `silence-${randomBytes(4).toString('hex')}` };
    await this.temporal.workflow.signalWithStart('alertSilencesWorkflow', {
      workflowId: alertSilencesWorkflowId,
      taskQueue: this.inventory.temporal.taskQueue,
      args: [{}],
      signal: addSilenceSignal,
      signalArgs: [silence],
      typedSearchAttributes: [{ key: RunSearchAttributes.kind, value: 'alert-silences' }],
      staticSummary: 'alert silences',
    });
    return silence;
  }

  /** Silences not yet past their end. */
  async listSilences(): Promise<Silence[]> {
    try {
      return await this.handle(alertSilencesWorkflowId).query(silencesQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return [];
      throw err;
    }
  }

  /** Ends a silence now. */
  async expireSilence(id: string, by: string): Promise<void> {
    const silences = await this.listSilences();
    if (!silences.some((s) => s.id === id)) throw new InvalidInputError([`no silence ${id} in force: see \`tego-ops silences\``]);
    await this.handle(alertSilencesWorkflowId).signal(expireSilenceSignal, { id, by });
  }

  handle(workflowId: string): WorkflowHandle {
    return this.temporal.workflow.getHandle(workflowId);
  }

  async close(): Promise<void> {
    await this.temporal.connection.close();
  }
}

/** `<kind>-<UTC time>-<random>`: sortable, readable in the UI, unique. */
export function newWorkflowId(kind: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${kind}-${stamp}-${randomBytes(3).toString('hex')}`;
}
