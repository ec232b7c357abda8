import { ApplicationFailure } from '@temporalio/activity';
import type Docker from 'dockerode';
import { appInstances, findService, Labels, primaryNode } from '../inventory/topology';
import { ErrorType } from '../workflows/error-types';
import { assertLocalHost, type ActivityDeps } from './deps';
import { databaseClientEnv, instanceContainerSpec, serviceSecretValues } from './docker-containers';
import { findPostgresNode } from './postgres-connection';

export interface RecreateContainerInput {
  host: string;
  container: string;
  /** The image to run. @default the one it runs now */
  image?: string;
  /** The database node to point it at (services that use the database). @default the primary */
  database?: string;
  /** Create it (on `image`) when it does not exist yet: a new instance of a scale-out. @default false */
  create?: boolean;
}

/** The name a container is kept under while its replacement is created. */
const previousName = (name: string) => `${name}-previous`;
/** The name a start-first replacement runs under until the old container is retired. */
const nextName = (name: string) => `${name}-next`;

/** App containers recreated from the inventory, on their host's Docker engine. */
export function createAppContainerActivities(deps: ActivityDeps) {
  return {
    /**
     * Recreates one app container from the inventory (same name and labels; env from the inventory) on
     * `image` (default: the image it runs now) and pointed at the database node `database` (default: the
     * primary), and starts it. Already so and running: nothing is done. The old container is renamed
     * aside until the new one runs, and put back if the new one cannot be created or started, so the
     * step either replaces it or leaves it as it was.
     * @throws ApplicationFailure `UnknownTarget` for a container the inventory does not place
     * @throws ApplicationFailure `ImageMissing` when the image is not on the host
     */
    async recreateContainer({ host, container, image: wantedImage, database, create = false }: RecreateContainerInput): Promise<{ recreated: boolean; image: string; previousImage: string }> {
      assertLocalHost(deps, host);
      const inventory = deps.inventory;
      const instance = appInstances(inventory).find((i) => i.containerName === container && i.host === host);
      if (!instance) throw ApplicationFailure.nonRetryable(`the inventory places no container ${container} on ${host}`, ErrorType.UnknownTarget);
      const service = findService(inventory, instance.service);
      const node = database ? findPostgresNode(inventory, database) : inventory.postgres ? primaryNode(inventory) : undefined;
      const wantedEnv = service.usesDatabase && node ? Object.entries(databaseClientEnv(inventory, node)).map(([k, v]) => `${k}=${v}`) : [];
      const docker = deps.docker(host);

      const current = await inspectOrNull(docker.getContainer(container));
      if (current?.State.Running && (!wantedImage || current.Config.Image === wantedImage) && wantedEnv.every((e) => current.Config.Env.includes(e))) {
        // An attempt that died after starting the new container left the old one aside.
        const aside = await inspectOrNull(docker.getContainer(previousName(container)));
        await removeIfPresent(docker, previousName(container));
        return { recreated: false, image: current.Config.Image, previousImage: aside?.Config.Image ?? current.Config.Image };
      }
      if (current) {
        // An attempt that died after renaming left the old container aside: that one is the original.
        await removeIfPresent(docker, previousName(container));
        if (current.State.Running) await docker.getContainer(container).stop({ t: 30 });
        await docker.getContainer(container).rename({ name: previousName(container) });
      }
      const previous = await inspectOrNull(docker.getContainer(previousName(container)));
      if (!previous && !(create && wantedImage)) throw ApplicationFailure.nonRetryable(`container ${container} does not exist on ${host}`, ErrorType.UnknownTarget);
      const image = wantedImage ?? previous!.Config.Image;
      // Labels of our own are rendered anew; others (an operator's, the sandbox's) are kept — from a sibling when new.
      const labelSource = previous ?? (await siblingOf(docker, service.name));
      const labels = Object.fromEntries(Object.entries(labelSource?.Config.Labels ?? {}).filter(([k]) => !Object.values(Labels).includes(k as never)));
      try {
        await pullIfMissing(deps, docker, image);
        const spec = instanceContainerSpec(inventory, service, instance, image, serviceSecretValues(service, (env, field) => deps.secret(env, field)), { labels, database: node });
        const created = await docker.createContainer(spec);
        await created.start();
      } catch (err) {
        await removeIfPresent(docker, container);
        if (previous) {
          await docker.getContainer(previousName(container)).rename({ name: container });
          if (previous.State.Running || current?.State.Running) await docker.getContainer(container).start().catch(() => undefined);
        }
        if ((err as { statusCode?: number }).statusCode === 404) {
          throw ApplicationFailure.nonRetryable(
            `cannot create ${container}: image ${image} is not on ${host} and no configured registry has it${previous ? '; the old container was put back' : ''}`,
            ErrorType.ImageMissing,
          );
        }
        throw err;
      }
      await removeIfPresent(docker, previousName(container));
      return { recreated: true, image, previousImage: previous?.Config.Image ?? image };
    },

    /**
     * Starts the replacement of a start-first deploy beside the running instance: `<container>-next`,
     * on `image`, on `hostPort` (the instance's new port), from the inventory's spec. Already running: left.
     */
    async startNextContainer({ host, container, image, hostPort }: { host: string; container: string; image: string; hostPort: number }): Promise<{ started: boolean }> {
      assertLocalHost(deps, host);
      const inventory = deps.inventory;
      const instance = appInstances(inventory).find((i) => i.containerName === container && i.host === host);
      if (!instance) throw ApplicationFailure.nonRetryable(`the inventory places no container ${container} on ${host}`, ErrorType.UnknownTarget);
      const docker = deps.docker(host);
      const next = await inspectOrNull(docker.getContainer(nextName(container)));
      if (next?.State.Running && next.Config.Image === image) return { started: false };
      await removeIfPresent(docker, nextName(container));
      await pullIfMissing(deps, docker, image);
      const service = findService(inventory, instance.service);
      const current = await inspectOrNull(docker.getContainer(container));
      const labels = Object.fromEntries(Object.entries(current?.Config.Labels ?? {}).filter(([k]) => !Object.values(Labels).includes(k as never)));
      const spec = instanceContainerSpec(inventory, service, { ...instance, hostPort }, image, serviceSecretValues(service, (env, field) => deps.secret(env, field)), { labels });
      try {
        await (await docker.createContainer({ ...spec, name: nextName(container) })).start();
      } catch (err) {
        await removeIfPresent(docker, nextName(container));
        if ((err as { statusCode?: number }).statusCode === 404) {
          throw ApplicationFailure.nonRetryable(`cannot start ${nextName(container)}: image ${image} is not on ${host} and no configured registry has it`, ErrorType.ImageMissing);
        }
        throw err;
      }
      return { started: true };
    },

    /**
     * Ends a start-first replacement: the old container (already out of nginx and drained) is stopped and
     * removed, and `<container>-next` takes its name. Done already: nothing to do.
     */
    async retireForNext({ host, container, stopTimeoutSeconds }: { host: string; container: string; stopTimeoutSeconds: number }): Promise<{ retired: boolean }> {
      assertLocalHost(deps, host);
      const docker = deps.docker(host);
      if (!(await inspectOrNull(docker.getContainer(nextName(container))))) return { retired: false };
      const old = await inspectOrNull(docker.getContainer(container));
      if (old) {
        if (old.State.Running) await docker.getContainer(container).stop({ t: stopTimeoutSeconds });
        await docker.getContainer(container).remove({ force: true });
      }
      await docker.getContainer(nextName(container)).rename({ name: container });
      return { retired: true };
    },

    /** Removes the `-next` container of a start-first replacement that is being undone. */
    async removeNextContainer({ host, container }: { host: string; container: string }): Promise<void> {
      assertLocalHost(deps, host);
      await removeIfPresent(deps.docker(host), nextName(container));
    },

    /** Stops (with `stopTimeoutSeconds` for requests in flight) and removes a container; a missing one is fine. */
    async removeContainer({ host, container, stopTimeoutSeconds }: { host: string; container: string; stopTimeoutSeconds: number }): Promise<{ removed: boolean }> {
      assertLocalHost(deps, host);
      const handle = deps.docker(host).getContainer(container);
      const info = await inspectOrNull(handle);
      if (!info) return { removed: false };
      if (info.State.Running) await handle.stop({ t: stopTimeoutSeconds });
      await handle.remove({ force: true });
      return { removed: true };
    },
  };
}

/**
 * Pulls `image` when the host does not have it and its registry is one of `registries` (with the
 * credentials named there). Otherwise leaves it: creating the container then fails with ImageMissing.
 */
async function pullIfMissing(deps: ActivityDeps, docker: Docker, image: string): Promise<void> {
  if (await docker.getImage(image).inspect().then(() => true, () => false)) return;
  const registryPart = image.includes('/') ? image.split('/')[0] : '';
  const registry = deps.inventory.registries.find((r) => r.address === registryPart);
  if (!registry) return;
  const authconfig = registry.usernameEnv
    ? {
        username: deps.secret(registry.usernameEnv, `registries[${registry.address}].usernameEnv`),
        password: registry.passwordEnv ? deps.secret(registry.passwordEnv, `registries[${registry.address}].passwordEnv`) : '',
        serveraddress: registry.address,
      }
    : undefined;
  const stream = await docker.pull(image, authconfig ? { authconfig } : {});
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
}

/** Another container of the same service on this engine, whose labels a new instance takes. */
async function siblingOf(docker: Docker, service: string): Promise<Docker.ContainerInspectInfo | null> {
  const [sibling] = await docker.listContainers({ all: true, filters: { label: [`${Labels.service}=${service}`] } });
  return sibling ? docker.getContainer(sibling.Id).inspect() : null;
}

async function inspectOrNull(container: Docker.Container): Promise<Docker.ContainerInspectInfo | null> {
  return container.inspect().catch((err: { statusCode?: number }) => {
    if (err.statusCode === 404) return null;
    throw err;
  });
}

async function removeIfPresent(docker: Docker, name: string): Promise<void> {
  await docker
    .getContainer(name)
    .remove({ force: true })
    .catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
}
