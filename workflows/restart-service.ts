import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities';
import { ActivityPresets } from './activity-options';
import { runChange } from './change-control';
import { ErrorType } from './error-types';
import { healthGate } from './gates';
import { RestartServiceInputSchema, type RestartServiceInput } from './inputs';
import { parseInput } from './validate-input';

const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

export interface RestartReport {
  service: string;
  restarted: string[];
}

/**
 * The guide's "重启故障服务 / 定期重启" (`docker-compose restart tego-os`), one container at a time: restart
 * it, wait until its health endpoint answers, then the next — so the service never loses every instance
 * at once. A restart cannot be undone; an instance that does not come back healthy stops the run there,
 * leaving the remaining ones untouched.
 * @throws ApplicationFailure `UnknownTarget` for a service or host the inventory does not have
 */
export async function restartServiceWorkflow(input: RestartServiceInput): Promise<RestartReport> {
  const { service, host, ...options } = parseInput(RestartServiceInputSchema, input);
  const topology = await probe.describeTopology();
  const instances = topology.instances.filter((i) => i.service === service && (!host || i.host === host));
  if (instances.length === 0) {
    const services = [...new Set(topology.instances.map((i) => i.service))];
    throw ApplicationFailure.nonRetryable(
      services.includes(service)
        ? `service ${service} has no instance on host ${host} (its hosts: ${[...new Set(topology.instances.filter((i) => i.service === service).map((i) => i.host))].join(', ')})`
        : `unknown service ${service} (services: ${services.join(', ')})`,
      ErrorType.UnknownTarget,
    );
  }
  const queueOf = new Map(topology.hosts.map((h) => [h.name, h.taskQueue]));
  const target = `service:${service}${host ? `@${host}` : ''}`;

  return runChange(
    { kind: 'restart-service', target, input, options },
    async (change) => {
      const restarted: string[] = [];
      for (const instance of instances) {
        const onHost = proxyActivities<HostActivities>({ ...ActivityPresets.hostProbe, startToCloseTimeout: '2 minutes', taskQueue: queueOf.get(instance.host)! });
        const gate = healthGate(Math.max(60_000, instance.healthTimeoutMs * 20));
        // No undo: a restart is not reversible; the next steps do not run if this instance stays unhealthy.
        await change.step(`restart ${instance.containerName}`, () =>
          onHost.restartContainer({ host: instance.host, container: instance.containerName, notBefore: new Date().toISOString(), stopTimeoutSeconds: 30 }),
        );
        await change.check(`wait until ${instance.containerName} is healthy`, () =>
          gate.requireHealthy({ url: instance.healthUrl, timeoutMs: instance.healthTimeoutMs }),
        );
        restarted.push(instance.containerName);
      }
      return { service, restarted };
    },
    (report) => `restarted ${report.restarted.length} of ${instances.length} instances: ${report.restarted.join(', ')}`,
  );
}
