import { WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Alert } from '../workflows/alert-rules';
import { incidentWorkflowId, observeSignal, type Observation } from '../workflows/incident-signals';
import { RunSearchAttributes } from '../workflows/run-labels';
import type { ActivityDeps } from './deps';

/** Activities that talk to the Temporal server on the patrol's behalf: incidents and queue backlogs. */
export function createAlertingActivities(deps: ActivityDeps) {
  return {
    /**
     * Hands the patrol's findings to the incidents: each firing alert reaches the incident of its dedup key
     * through signal-with-start (opened if none is running, updated if one is); each cleared key's incident
     * is told. Idempotent: an incident treats a repeated observation as the same news.
     */
    async raiseAlerts({ firing, cleared }: { firing: { alert: Alert; inhibitedBy?: string }[]; cleared: string[] }): Promise<void> {
      const client = await deps.temporal();
      const { taskQueue } = deps.inventory.temporal;
      await Promise.all([
        ...firing.map(({ alert, inhibitedBy }) => {
          const observation: Observation = { firing: true, alert, ...(inhibitedBy ? { inhibitedBy } : {}) };
          return client.workflow.signalWithStart('incidentWorkflow', {
            workflowId: incidentWorkflowId(alert.dedupKey),
            taskQueue,
            args: [{ alert }],
            signal: observeSignal,
            signalArgs: [observation],
            typedSearchAttributes: [
              { key: RunSearchAttributes.kind, value: 'incident' },
              { key: RunSearchAttributes.target, value: alert.dedupKey },
            ],
            staticSummary: `${alert.priority} ${alert.summary}`,
          });
        }),
        ...cleared.map(async (dedupKey) => {
          try {
            await client.workflow.getHandle(incidentWorkflowId(dedupKey)).signal(observeSignal, { firing: false });
          } catch (err) {
            // Closed already (resolved, or ended by hand): nothing to tell.
            if (!(err instanceof WorkflowNotFoundError)) throw err;
          }
        }),
      ]);
    },

    /** Tasks waiting on each task queue (workflow and activity tasks together), as the server estimates them. */
    async taskQueueBacklogs(queues: string[]): Promise<{ name: string; backlog: number }[]> {
      const client = await deps.temporal();
      const { namespace } = deps.inventory.temporal;
      const { TaskQueueType } = temporal.api.enums.v1;
      return Promise.all(
        queues.map(async (name) => {
          let backlog = 0;
          for (const taskQueueType of [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY]) {
            const response = await client.workflowService.describeTaskQueue({
              namespace,
              taskQueue: { name },
              taskQueueType,
              reportStats: true,
            });
            backlog += Number(response.stats?.approximateBacklogCount ?? 0);
          }
          return { name, backlog };
        }),
      );
    },
  };
}
