import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderNginxConfig } from '../../../activities/nginx-config';
import type { Inventory } from '../../../inventory/schema';
import { run, stopPidFile, waitForPort } from '../daemon';
import type { SandboxLayout } from '../layout';

export function nginxPaths(layout: SandboxLayout) {
  const prefix = layout.paths.nginx;
  return {
    prefix,
    mainConfig: join(prefix, 'nginx.conf'),
    siteConfig: join(prefix, 'conf.d', 'tego.conf'),
    pidFile: join(prefix, 'nginx.pid'),
  };
}

/**
 * nginx in front of the demo apps. Its main config only includes the file tego-ops renders from the
 * inventory, as a production nginx would include conf.d/tego.conf.
 */
export async function startNginx(layout: SandboxLayout, inventory: Inventory): Promise<void> {
  const paths = nginxPaths(layout);
  const temp = join(paths.prefix, 'tmp');
  await mkdir(join(paths.prefix, 'conf.d'), { recursive: true });
  await mkdir(temp, { recursive: true });
  await chmod(temp, 0o777); // workers run as nobody
  await writeFile(
    paths.mainConfig,
    [
      `worker_processes 1;`,
      `pid ${paths.pidFile};`,
      `error_log ${join(paths.prefix, 'error.log')} warn;`,
      `events { worker_connections 2048; }`,
      `http {`,
      `    access_log ${join(paths.prefix, 'access.log')};`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${join(temp, t)};`),
      `    include ${paths.siteConfig};`,
      `}`,
      '',
    ].join('\n'),
  );
  await writeFile(paths.siteConfig, renderNginxConfig(inventory));
  await run('nginx', ['-t', '-q', '-p', paths.prefix, '-c', paths.mainConfig]);
  await run('nginx', ['-p', paths.prefix, '-c', paths.mainConfig]);
  for (const frontend of inventory.loadBalancer!.frontends) await waitForPort(frontend.listen, `nginx frontend of ${frontend.service}`);
}

export async function stopNginx(layout: SandboxLayout): Promise<void> {
  await stopPidFile(nginxPaths(layout).pidFile, 'SIGQUIT');
}
