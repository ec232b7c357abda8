import Docker from 'dockerode';
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Registry } from 'prom-client';
import { dataConverterFor } from '../client/payload-codec';
import type { InventoryFile } from '../inventory/inventory-file';
import type { Host, Inventory } from '../inventory/schema';
import { findHost } from '../inventory/topology';
import { readSecret } from '../inventory/load';
import { ErrorType } from '../workflows/error-types';

/**
 * What activities need from the outside world. Built once per worker from the inventory; tests build
 * it the same way against the sandbox, so activities always talk to real systems.
 */
export interface ActivityDeps {
  /** The inventory as it is now: re-read when its file changes (a failover rewrites the roles). */
  readonly inventory: Inventory;
  /** The file the inventory comes from, when the worker was started with one; switchover and failover write to it. */
  inventoryFile?: InventoryFile;
  /** The host this worker runs on, for host-bound activities; undefined on a shared-queue worker. */
  localHost?: string;
  docker(host: string): Docker;
  secret(envName: string, field: string): string;
  /** A client of the Temporal server the inventory names, for activities that start or signal workflows. */
  temporal(): Promise<Client>;
  /** The worker's `/metrics` registry, where the patrol's gauges are published; absent when metrics are off. */
  metrics?: Registry;
}

export function createDeps(source: Inventory | InventoryFile, localHost?: string, metrics?: Registry): ActivityDeps {
  const engines = new Map<string, Docker>();
  let temporal: Promise<Client> | undefined;
  const file = 'current' in source ? source : undefined;
  const current = () => (file ? file.current() : (source as Inventory));
  return {
    get inventory() {
      return current();
    },
    inventoryFile: file,
    localHost,
    metrics,
    docker(hostName) {
      let engine = engines.get(hostName);
      if (!engine) {
        engine = new Docker(dockerOptions(findHost(current(), hostName)));
        engines.set(hostName, engine);
      }
      return engine;
    },
    secret(envName, field) {
      try {
        return readSecret(envName, field);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.MissingSecret);
      }
    },
    temporal() {
      temporal ??= connectTemporal(current()).catch((err: unknown) => {
        temporal = undefined; // the next call tries again
        throw err;
      });
      return temporal;
    },
  };
}

async function connectTemporal(inventory: Inventory): Promise<Client> {
  const { address, namespace } = inventory.temporal;
  const connection = await Connection.connect({ address, connectTimeout: 5000 });
  return new Client({ connection, namespace, dataConverter: dataConverterFor(inventory) });
}

function dockerOptions(host: Host): Docker.DockerOptions {
  const { socketPath, host: address, port, protocol } = host.docker;
  return socketPath ? { socketPath } : { host: address, port, protocol };
}

/** Host-bound activities refuse to run on another host's worker: a misrouted call must not act. */
export function assertLocalHost(deps: ActivityDeps, host: string): void {
  if (deps.localHost !== undefined && deps.localHost !== host) {
    throw ApplicationFailure.nonRetryable(
      `activity for host ${host} reached the worker of host ${deps.localHost}; check the task queue routing`,
      ErrorType.WrongHost,
    );
  }
}
