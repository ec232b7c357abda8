import { ApplicationFailure } from '@temporalio/activity';
import { Labels } from '../inventory/topology';
import { ErrorType } from '../workflows/error-types';
import { assertLocalHost, type ActivityDeps } from './deps';
import { timedProbe, type ProbeResult } from './probe-result';

export interface ContainerState {
  name: string;
  service: string;
  state: string;
  status: string;
  image: string;
}

/** The tego-managed containers on `host` (by its label: logical hosts may share one engine), with their ids. */
export async function listHostContainers(deps: ActivityDeps, host: string): Promise<(ContainerState & { id: string })[]> {
  const listed = await deps.docker(host).listContainers({ all: true, filters: { label: [`${Labels.host}=${host}`] } });
  return listed.map((c) => ({
    id: c.Id,
    name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
    service: c.Labels[Labels.service] ?? '',
    state: c.State,
    status: c.Status,
    image: c.Image,
  }));
}

export interface HostContainersReport {
  engine: ProbeResult;
  containers: ContainerState[];
}

/** Activities bound to one host's Docker engine; registered on that host's task queue. */
export function createDockerActivities(deps: ActivityDeps) {
  return {
    /** The state of every tego-managed container on `host`, and whether its engine answers. */
    async inspectHostContainers(host: string): Promise<HostContainersReport> {
      assertLocalHost(deps, host);
      const docker = deps.docker(host);
      let containers: ContainerState[] = [];
      const engine = await timedProbe(async () => {
        const version = await docker.version();
        containers = (await listHostContainers(deps, host)).map(({ id: _id, ...state }) => state);
        return { status: 'up', detail: { engineVersion: version.Version, containers: containers.length } };
      });
      return { engine, containers };
    },

    /**
     * Restarts one container (stop with the grace period, then start). Idempotent: a container started at
     * or after `notBefore` (the step's start) was already restarted by an earlier attempt and is left alone.
     * @throws ApplicationFailure `UnknownTarget` (non-retryable) when the container does not exist
     */
    async restartContainer({ host, container, notBefore, stopTimeoutSeconds }: RestartContainerInput): Promise<{ restarted: boolean; startedAt: string }> {
      assertLocalHost(deps, host);
      const handle = deps.docker(host).getContainer(container);
      const inspect = () =>
        handle.inspect().catch((err: { statusCode?: number }) => {
          if (err.statusCode === 404) {
            throw ApplicationFailure.nonRetryable(`container ${container} does not exist on ${host}`, ErrorType.UnknownTarget);
          }
          throw err;
        });
      const before = await inspect();
      if (before.State.Running && Date.parse(before.State.StartedAt) >= Date.parse(notBefore)) {
        return { restarted: false, startedAt: before.State.StartedAt };
      }
      await handle.restart({ t: stopTimeoutSeconds });
      return { restarted: true, startedAt: (await inspect()).State.StartedAt };
    },

    /** Stops a container (SIGTERM, then SIGKILL after the grace period). A stopped one is left as it is. */
    async stopContainer({ host, container, stopTimeoutSeconds }: { host: string; container: string; stopTimeoutSeconds: number }): Promise<void> {
      assertLocalHost(deps, host);
      const handle = deps.docker(host).getContainer(container);
      if ((await handle.inspect()).State.Running) await handle.stop({ t: stopTimeoutSeconds });
    },

    /** Starts a container. A running one is left as it is. */
    async startContainer({ host, container }: { host: string; container: string }): Promise<void> {
      assertLocalHost(deps, host);
      const handle = deps.docker(host).getContainer(container);
      if (!(await handle.inspect()).State.Running) await handle.start();
    },
  };
}

export interface RestartContainerInput {
  host: string;
  container: string;
  /** ISO time the restart step began: a container started since then needs no second restart. */
  notBefore: string;
  /** Seconds Docker waits after SIGTERM before SIGKILL, for the app to drain. */
  stopTimeoutSeconds: number;
}
