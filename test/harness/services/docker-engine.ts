import { join } from 'node:path';
import Docker from 'dockerode';
import { spawnDaemon, waitUntil } from '../daemon';
import type { SandboxLayout } from '../layout';

export const dockerSocket = '/var/run/docker.sock';

/**
 * Makes sure a Docker engine answers on the default socket, starting Debian's dockerd when none does.
 * dockerd is system infrastructure shared by every sandbox on the machine, so it is left running.
 */
export async function ensureDockerEngine(layout: SandboxLayout): Promise<Docker> {
  const docker = new Docker({ socketPath: dockerSocket });
  if (await answers(docker)) return docker;
  if (process.getuid?.() !== 0) {
    throw new Error(`no Docker engine answers on ${dockerSocket}, and only root can start dockerd here`);
  }
  await spawnDaemon({
    command: 'dockerd',
    args: [],
    logFile: join(layout.paths.logs, 'dockerd.log'),
    pidFile: join(layout.paths.pids, 'dockerd.pid.keep'),
  });
  await waitUntil(() => answers(docker), 60_000, 500, `dockerd on ${dockerSocket}`);
  return docker;
}

async function answers(docker: Docker): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    return false;
  }
}
