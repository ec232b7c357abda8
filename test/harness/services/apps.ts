import type Docker from 'dockerode';
import { instanceContainerSpec, serviceSecretValues } from '../../../activities/docker-containers';
import type { Inventory } from '../../../inventory/schema';
import { appInstances } from '../../../inventory/topology';
import { waitUntil } from '../daemon';

/** Label that marks the containers one sandbox created, so its teardown removes exactly those. */
export const SandboxLabel = 'tego.sandbox';

/** Starts every app instance of the inventory on its image and waits until each is healthy. */
export async function startApps(docker: Docker, inventory: Inventory, sandboxId: string): Promise<void> {
  await removeApps(docker, sandboxId);
  const secret = (name: string) => process.env[name] ?? '';
  await Promise.all(
    inventory.services.flatMap((service) =>
      appInstances(inventory, service).map(async (instance) => {
        await docker.getContainer(instance.containerName).remove({ force: true }).catch(() => undefined);
        const spec = instanceContainerSpec(inventory, service, instance, service.image, serviceSecretValues(service, secret), {
          labels: { [SandboxLabel]: sandboxId },
        });
        const container = await docker.createContainer(spec);
        await container.start();
        await waitUntil(
          async () => (await fetch(instance.healthUrl, { signal: AbortSignal.timeout(1000) })).ok,
          30_000,
          200,
          `${instance.containerName} to pass ${instance.healthUrl}`,
        );
      }),
    ),
  );
}

export async function removeApps(docker: Docker, sandboxId: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${SandboxLabel}=${sandboxId}`] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
}
