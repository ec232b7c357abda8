import { Client, Connection } from '@temporalio/client';
import { dataConverterFor } from '../../client/payload-codec';
import { loadInventory } from '../../inventory/load';
import type { SandboxState } from './sandbox';

/**
 * A Temporal client on the sandbox's server, for assertions on histories and results. It uses the
 * data converter production clients use (dataConverterFor), with the sandbox's payload keys, so it
 * reads the encrypted results its workers write.
 */
export async function sandboxClient(sandbox: SandboxState): Promise<Client> {
  const inventory = await loadInventory(sandbox.inventoryPath);
  const dataConverter = dataConverterFor(inventory, { ...process.env, ...sandbox.env });
  const connection = await Connection.connect({ address: sandbox.temporalAddress });
  return new Client({ connection, namespace: inventory.temporal.namespace, dataConverter });
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
