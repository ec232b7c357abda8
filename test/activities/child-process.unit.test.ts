import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { spawnPiped } from '../../activities/child-process';

describe('spawnPiped', () => {
  it("stops the tool when its activity is cancelled, so nothing is left running", async () => {
    const env = new MockActivityEnvironment();
    let pid: number | undefined;
    const running = env.run(async () => {
      const sleeper = spawnPiped('sleep', ['30']);
      pid = sleeper.child.pid;
      await sleeper.exited;
    });
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    env.cancel();
    await expect(running).rejects.toThrow('sleep was stopped: the activity was cancelled');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(() => process.kill(pid!, 0)).toThrow(); // gone
  });

  it('lets work begun after the cancellation finish (a last flush)', async () => {
    const env = new MockActivityEnvironment();
    env.cancel();
    await env.run(async () => {
      const echo = spawnPiped('sh', ['-c', 'sleep 0.2; echo done']);
      echo.child.stdin.end();
      let out = '';
      echo.child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      await echo.exited;
      expect(out).toBe('done\n');
    });
  });
});
