import { topologyView, type TopologyView } from '../inventory/topology';
import type { ActivityDeps } from './deps';

export function createInventoryActivities(deps: ActivityDeps) {
  return {
    /** The inventory as a workflow may see it: names, queues and URLs, no credentials. */
    async describeTopology(): Promise<TopologyView> {
      return topologyView(deps.inventory);
    },
  };
}
