import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderNginxConfig, upstreamName } from '../../activities/nginx-config';
import { loadInventory } from '../../inventory/load';

const examplePath = resolve(__dirname, '../../ops.example.yaml');

describe('renderNginxConfig', () => {
  it("renders one upstream per fronted service with every instance and the guide's settings", async () => {
    const config = renderNginxConfig(await loadInventory(examplePath));
    expect(config).toContain(
      [
        'upstream tego_tego_os {',
        '    least_conn;',
        '    server 10.0.1.11:26000 max_fails=3 fail_timeout=30s; # tego-os-host1-1',
        '    server 10.0.1.12:26000 max_fails=3 fail_timeout=30s; # tego-os-host2-1',
        '    keepalive 32;',
        '}',
      ].join('\n'),
    );
    expect(config).toContain('listen 10.0.1.10:80;');
    expect(config).toContain('proxy_pass http://tego_tego_os_server;');
    expect(config.match(/^upstream /gm)).toHaveLength(4);
  });

  it('leaves out excluded instances', async () => {
    const config = renderNginxConfig(await loadInventory(examplePath), new Set(['tego-os@host1:26000']));
    expect(config).not.toContain('# tego-os-host1-1');
    expect(config).toContain('# tego-os-host2-1');
  });

  it('refuses to render an empty upstream', async () => {
    const inventory = await loadInventory(examplePath);
    expect(() => renderNginxConfig(inventory, new Set(['tego-mcp@host1:27000', 'tego-mcp@host2:27000']))).toThrow(
      'refusing to render an empty upstream for tego-mcp: it would fail every request',
    );
  });

  it('makes nginx-safe upstream names', () => {
    expect(upstreamName('tego-os-server')).toBe('tego_tego_os_server');
  });
});
