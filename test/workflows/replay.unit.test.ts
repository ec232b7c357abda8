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
    // A fixture is { workflowId, history } (record-history.ts), or a bare history downloaded from the UI.
    const histories = await Promise.all(
      files.map(async (file) => {
        const saved = JSON.parse(await readFile(join(fixtures, file), 'utf8')) as { workflowId?: string; history?: unknown };
        return {
          workflowId: saved.workflowId ?? file.replace(/\.json$/, ''),
          history: historyFromJSON(saved.history ?? saved),
        };
      }),
    );
    const results = [];
    for await (const result of Worker.runReplayHistories(
      { workflowsPath: resolve(__dirname, '../../workflows/index.ts') },
      histories,
    )) {
      results.push({ workflowId: result.workflowId, error: result.error?.message });
    }
    expect(results.filter((r) => r.error)).toEqual([]);
    expect(results).toHaveLength(files.length);
  });
});
