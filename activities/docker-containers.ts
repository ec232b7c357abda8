import type Docker from 'dockerode';
import type { Inventory, Service } from '../inventory/schema';
import { findHost, Labels, type AppInstance } from '../inventory/topology';

/**
 * The Docker create options of one app instance, as the inventory describes it.
 * `secretValues` holds the values of the service's `secretEnv`, read from the worker's environment.
 */
export function instanceContainerSpec(
  inventory: Inventory,
  service: Service,
  instance: AppInstance,
  image: string,
  secretValues: Record<string, string>,
  extraLabels: Record<string, string> = {},
): Docker.ContainerCreateOptions {
  const host = findHost(inventory, instance.host);
  const env: Record<string, string> = {
    ...service.env,
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
      ...extraLabels,
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
