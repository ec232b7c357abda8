import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';

const fixtures = resolve(__dirname, '../fixtures/histories');

/**
 * Every recorded history (test/fixtures/histories, saved with test/harness/record-history.ts) must
 * replay on today's workflow code: a non-deterministic change would break workflows in flight.
 */
describe('workflow replay', () => {
  it('replays every recorded history without non-determinism', async () => {
    const files = (await readdir(fixtures)).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    const histories = await Promise.all(
      files.map(async (file) => ({
        workflowId: file.replace(/\.json$/, ''),
        history: historyFromJSON(JSON.parse(await readFile(join(fixtures, file), 'utf8'))),
      })),
    );
    const results = [];
    for await (const result of Worker.runReplayHistories(
      { workflowsPath: resolve(__dirname, '../../workflows/index.ts') },
      histories,
    )) {
      results.push({ workflowId: result.workflowId, error: result.error?.message });
    }
    expect(results).toEqual(files.map((f) => ({ workflowId: f.replace(/\.json$/, ''), error: undefined })));
  });
});
