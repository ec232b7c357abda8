import { Client, Connection } from '@temporalio/client';
import type { SandboxState } from './sandbox';

/** A plain Temporal client on the sandbox's server, for assertions on histories and results. */
export async function sandboxClient(sandbox: SandboxState): Promise<Client> {
  const connection = await Connection.connect({ address: sandbox.temporalAddress });
  return new Client({ connection, namespace: 'default' });
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
