import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { copyFile, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../workflows/error-types';
import { runTool } from './child-process';
import { assertLocalHost, type ActivityDeps } from './deps';
import { renderNginxConfig } from './nginx-config';

const execFileAsync = promisify(execFile);

export interface UpstreamChange {
  /** Whether the file changed (and nginx was reloaded); an unchanged rendering touches nothing. */
  changed: boolean;
  /** Instances ("service@host:port") left out of the upstreams. */
  excluded: string[];
}

/**
 * The nginx in front of the apps, on the load balancer's host: render the upstreams from the inventory
 * (minus the instances being drained), test, swap in atomically, reload — only when the file changes,
 * keeping the previous file beside it (`<configFile>.previous`).
 */
export function createLoadBalancerActivities(deps: ActivityDeps) {
  const settings = () => {
    const lb = deps.inventory.loadBalancer;
    if (!lb) throw ApplicationFailure.nonRetryable('the inventory has no loadBalancer section', ErrorType.UnknownTarget);
    assertLocalHost(deps, lb.host);
    return lb;
  };

  return {
    /**
     * Renders the upstreams without `exclude` and applies them. The candidate is tested with the load
     * balancer's `testCommand` before nginx is reloaded: one that fails is replaced by the previous file
     * at once, and nginx, never reloaded, keeps serving with what it had.
     * @throws ApplicationFailure `InvalidConfig` (non-retryable) when a fronted service would have no instance left, or nginx rejects the candidate
     */
    async applyUpstreams({ exclude }: { exclude: string[] }): Promise<UpstreamChange> {
      const lb = settings();
      let candidate: string;
      try {
        candidate = renderNginxConfig(deps.inventory, new Set(exclude));
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.InvalidConfig);
      }
      const live = await readFile(lb.configFile, 'utf8').catch(() => '');
      if (live === candidate) return { changed: false, excluded: exclude };

      const candidateFile = `${lb.configFile}.candidate`;
      const previousFile = `${lb.configFile}.previous`;
      await writeFile(candidateFile, candidate);
      if (live) await copyFile(lb.configFile, previousFile);
      // nginx tests the configuration it would load: the candidate goes in place, and back out if refused.
      await rename(candidateFile, lb.configFile);
      try {
        await runTool(lb.testCommand[0], lb.testCommand.slice(1).map((arg) => arg.replace('{config}', lb.configFile)));
      } catch (err) {
        if (existsSync(previousFile)) await copyFile(previousFile, lb.configFile);
        else await rm(lb.configFile, { force: true });
        throw ApplicationFailure.nonRetryable(`nginx rejected the rendered upstreams, nothing was reloaded: ${(err as Error).message}`, ErrorType.InvalidConfig);
      }
      await runTool(lb.reloadCommand[0], lb.reloadCommand.slice(1));
      return { changed: true, excluded: exclude };
    },

    /**
     * A gate: returns once nginx has no worker left from before the last reload. Such a worker keeps
     * serving the requests it had in flight, to the instances just taken out, and exits when they are
     * done — so this is the moment those instances are drained.
     * @throws ApplicationFailure `NotDrainedYet` (retryable) while one is left
     */
    async requireNginxDrained(): Promise<{ drained: true }> {
      settings();
      const { stdout } = await execFileAsync('ps', ['-eo', 'args']).catch(() => ({ stdout: '' }));
      const draining = stdout.split('\n').filter((line) => line.includes('nginx: worker process is shutting down')).length;
      if (draining > 0) throw ApplicationFailure.retryable(`${draining} nginx worker(s) still finishing requests begun before the reload`, ErrorType.NotDrainedYet);
      return { drained: true };
    },
  };
}
