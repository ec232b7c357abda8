import type { Inventory } from '../inventory/schema';
import { appInstances, findService, upstreamKey } from '../inventory/topology';

/** nginx upstream names may not contain dashes the way service names do. */
export function upstreamName(service: string): string {
  return `tego_${service.replace(/-/g, '_')}`;
}

/**
 * Renders the load balancer's config from the inventory: one upstream per fronted service with
 * every placed instance, and one server block per frontend. The guide's settings (least_conn,
 * max_fails=3 fail_timeout=30s, keepalive 32, 5 s connect timeout) are kept.
 * @param exclude instances ("service@host:port") left out, e.g. while they are drained.
 * @throws Error when a fronted service would be left with no instance: nginx would refuse every request.
 */
export function renderNginxConfig(inventory: Inventory, exclude: ReadonlySet<string> = new Set()): string {
  const lb = inventory.loadBalancer;
  if (!lb) throw new Error('the inventory has no loadBalancer section');
  const blocks = lb.frontends.map((frontend) => {
    const service = findService(inventory, frontend.service);
    const servers = appInstances(inventory, service)
      .filter((i) => !exclude.has(upstreamKey(i)))
      .map((i) => {
        const address = inventory.hosts.find((h) => h.name === i.host)!.address;
        return `    server ${address}:${i.hostPort} max_fails=3 fail_timeout=30s; # ${i.containerName}`;
      });
    if (servers.length === 0) {
      throw new Error(`refusing to render an empty upstream for ${service.name}: it would fail every request`);
    }
    const upstream = upstreamName(service.name);
    return [
      `upstream ${upstream} {`,
      `    least_conn;`,
      ...servers,
      `    keepalive 32;`,
      `}`,
      ``,
      `server {`,
      `    listen ${lb.address}:${frontend.listen};`,
      ...(lb.accessLog ? [`    access_log ${lb.accessLog} ${accessLogFormat};`] : []),
      `    client_max_body_size 10M;`,
      `    keepalive_timeout 65;`,
      `    location / {`,
      `        proxy_pass http://${upstream};`,
      `        proxy_http_version 1.1;`,
      `        proxy_set_header Connection "";`,
      `        proxy_set_header Host $host;`,
      `        proxy_set_header X-Real-IP $remote_addr;`,
      `        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`,
      `        proxy_connect_timeout 5s;`,
      `        proxy_send_timeout 60s;`,
      `        proxy_read_timeout 60s;`,
      `        proxy_next_upstream error timeout http_502 http_503;`,
      `    }`,
      `}`,
    ].join('\n');
  });
  const logFormat = lb.accessLog ? `${accessLogFormatDefinition}\n\n` : '';
  return `# Rendered by tego-ops from the inventory; edits here are overwritten.\n\n${logFormat}${blocks.join('\n\n')}\n`;
}

/** The access log's format: one JSON object per request, which activities/access-log.ts reads. */
export const accessLogFormat = 'tego_ops_json';
const accessLogFormatDefinition =
  `log_format ${accessLogFormat} escape=json '{"time":"$time_iso8601","port":"$server_port","status":"$status",` +
  `"upstream":"$upstream_addr","upstreamStatus":"$upstream_status","requestTime":"$request_time","remote":"$remote_addr","uri":"$uri"}';`;
