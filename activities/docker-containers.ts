import type Docker from 'dockerode';
import type { Inventory, PostgresNode, Service } from '../inventory/schema';
import { findHost, Labels, primaryNode, type AppInstance } from '../inventory/topology';

export interface InstanceSpecOptions {
  /** Labels beyond tego-ops's own (the sandbox marks its containers). */
  labels?: Record<string, string>;
  /** The database node the instance is pointed at. @default the inventory's primary */
  database?: PostgresNode;
}

/**
 * The Docker create options of one app instance, as the inventory describes it. A service that uses the
 * database gets the primary's address and port in `postgres.clientEnv`'s variables.
 * `secretValues` holds the values of the service's `secretEnv`, read from the worker's environment.
 */
export function instanceContainerSpec(
  inventory: Inventory,
  service: Service,
  instance: AppInstance,
  image: string,
  secretValues: Record<string, string>,
  options: InstanceSpecOptions = {},
): Docker.ContainerCreateOptions {
  const host = findHost(inventory, instance.host);
  const env: Record<string, string> = {
    ...service.env,
    ...(service.usesDatabase && inventory.postgres ? databaseClientEnv(inventory, options.database ?? primaryNode(inventory)) : {}),
    ...secretValues,
    SERVICE_NAME: service.name,
    INSTANCE_ID: instance.containerName,
  };
  const hostConfig: Docker.HostConfig = { RestartPolicy: { Name: 'no' } };
  if (service.network === 'host') {
    // Sharing the host's network, the instance must listen on its own host port.
    env.PORT = String(instance.hostPort);
    hostConfig.NetworkMode = 'host';
  } else {
    hostConfig.PortBindings = {
      [`${service.port}/tcp`]: [{ HostIp: host.address, HostPort: String(instance.hostPort) }],
    };
  }
  return {
    name: instance.containerName,
    Image: image,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ExposedPorts: service.network === 'host' ? undefined : { [`${service.port}/tcp`]: {} },
    Labels: {
      ...options.labels,
      [Labels.service]: service.name,
      [Labels.host]: instance.host,
      [Labels.instance]: String(instance.index),
    },
    HostConfig: hostConfig,
  };
}

/** Values of a service's secret variables, read through `secret` so a missing one names its field. */
export function serviceSecretValues(
  service: Service,
  secret: (envName: string, field: string) => string,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.secretEnv).map(([variable, envName]) => [
      variable,
      secret(envName, `services[${service.name}].secretEnv.${variable}`),
    ]),
  );
}

/** The variables that point an app at `node`, as `postgres.clientEnv` names them. */
export function databaseClientEnv(inventory: Inventory, node: PostgresNode): Record<string, string> {
  const names = inventory.postgres!.clientEnv;
  return { [names.host]: node.address, [names.port]: String(node.port) };
}
