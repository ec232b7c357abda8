import { randomBytes } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { formatIssues } from '../inventory/format-issues';
import type { Inventory } from '../inventory/schema';
import type { HealthReport } from '../workflows/health-report';
import { WorkflowKinds, type WorkflowInput, type WorkflowKind } from './workflow-kinds';

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
   * Connects to the Temporal server the inventory names.
   * @throws Error naming the address when the server does not answer.
   */
  static async connect(inventory: Inventory): Promise<OpsClient> {
    const { address, namespace } = inventory.temporal;
    let connection: Connection;
    try {
      connection = await Connection.connect({ address, connectTimeout: 5000 });
    } catch (err) {
      throw new Error(`cannot reach the Temporal server at ${address}: ${(err as Error).message}`);
    }
    return new OpsClient(new Client({ connection, namespace }), inventory);
  }

  /**
   * Validates `input` with the kind's schema and starts the workflow on the shared task queue.
   * @throws InvalidInputError before starting anything when the input is invalid.
   */
  async start<K extends WorkflowKind>(
    kind: K,
    input: WorkflowInput<K>,
    options: { workflowId?: string } = {},
  ): Promise<WorkflowHandle> {
    const spec = WorkflowKinds[kind];
    const parsed = spec.inputSchema.safeParse(input ?? {});
    if (!parsed.success) throw new InvalidInputError(formatIssues(parsed.error));
    return this.temporal.workflow.start(spec.workflowType, {
      taskQueue: this.inventory.temporal.taskQueue,
      workflowId: options.workflowId ?? newWorkflowId(kind),
      args: [input ?? {}],
    });
  }

  /** Starts a workflow and waits for its result. */
  async run<R = unknown, K extends WorkflowKind = WorkflowKind>(kind: K, input: WorkflowInput<K>): Promise<R> {
    const handle = await this.start(kind, input);
    return (await handle.result()) as R;
  }

  /** Runs a health check and waits for its report. */
  async checkHealth(input: WorkflowInput<'health'> = {}): Promise<HealthReport> {
    return this.run<HealthReport>('health', input);
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
