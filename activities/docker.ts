import { Labels } from '../inventory/topology';
import { assertLocalHost, type ActivityDeps } from './deps';
import { timedProbe, type ProbeResult } from './probe-result';

export interface ContainerState {
  name: string;
  service: string;
  state: string;
  status: string;
  image: string;
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
        const listed = await docker.listContainers({ all: true, filters: { label: [`${Labels.host}=${host}`] } });
        containers = listed.map((c) => ({
          name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
          service: c.Labels[Labels.service] ?? '',
          state: c.State,
          status: c.Status,
          image: c.Image,
        }));
        return { status: 'up', detail: { engineVersion: version.Version, containers: containers.length } };
      });
      return { engine, containers };
    },
  };
}
