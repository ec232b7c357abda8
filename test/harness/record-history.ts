import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { payloadCodecFromEnv, isEncrypted } from '../../client/payload-codec';
import { loadInventory } from '../../inventory/load';

/**
 * Saves the history of a finished workflow as a replay fixture:
 *   tsx test/harness/record-history.ts <workflowId> <fixture-name> [runId]
 * (without a run id, the latest run; give one to keep a run that continued as new)
 * Replay tests run every fixture through today's workflow code, so a change that would break
 * running workflows fails in CI instead of in production.
 */
async function main(): Promise<void> {
  const [workflowId, name, runId] = process.argv.slice(2);
  if (!workflowId || !name) throw new Error('usage: record-history.ts <workflowId> <fixture-name>');
  const inventory = await loadInventory();
  const connection = await Connection.connect({ address: inventory.temporal.address });
  try {
    const client = new Client({ connection, namespace: inventory.temporal.namespace });
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    // Saved decrypted: the sandbox's payload key is generated per sandbox and lost with it, and replay
    // runs without a codec. Histories hold only test data.
    const codec = payloadCodecFromEnv(inventory.temporal.payloadEncryption?.keysEnv);
    if (codec) await decryptPayloadsIn(history, codec);
    const file = resolve(__dirname, '../fixtures/histories', `${name}.json`);
    // The history is the JSON the Temporal UI and CLI download; the workflow id is kept beside it
    // because workflow code may use it (child workflow ids), and replay must see the same one.
    await writeFile(file, `{"workflowId": ${JSON.stringify(workflowId)},\n "history": ${historyToJSON(history)}}\n`);
    console.log(`saved ${history.events?.length ?? 0} events to ${file}`);
  } finally {
    await connection.close();
  }
}

/** Replaces every encrypted payload anywhere in `value` by its decrypted form, in place. */
async function decryptPayloadsIn(value: unknown, codec: PayloadCodec): Promise<void> {
  if (!value || typeof value !== 'object' || ArrayBuffer.isView(value)) return;
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    if (child && typeof child === 'object' && 'metadata' in child && isEncrypted(child as Payload)) {
      [(value as Record<string, unknown>)[key]] = await codec.decode([child as Payload]);
    } else {
      await decryptPayloadsIn(child, codec);
    }
  }
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
