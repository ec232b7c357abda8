import Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
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
}

export function createDeps(source: Inventory | InventoryFile, localHost?: string): ActivityDeps {
  const engines = new Map<string, Docker>();
  const file = 'current' in source ? source : undefined;
  const current = () => (file ? file.current() : (source as Inventory));
  return {
    get inventory() {
      return current();
    },
    inventoryFile: file,
    localHost,
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
  };
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
