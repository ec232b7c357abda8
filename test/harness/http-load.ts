import { request } from 'node:http';

export interface HttpLoadReport {
  requests: number;
  failed: number;
  /** The first few failures, for the message of a failing assertion. */
  failures: string[];
  /** Responses per "instance@version" the apps name in their replies. */
  servedBy: Record<string, number>;
}

export interface HttpLoad {
  stop(): Promise<HttpLoadReport>;
}

/**
 * Requests through the load balancer without pause from `concurrency` clients, each on a connection of
 * its own (as `ab` without -k does), counting every answer that is not a 2xx and every request that
 * fails outright. No keep-alive: a request sent on an idle connection at the instant nginx's old worker
 * closes it after a reload fails in any client that does not retry, and that would measure the client.
 */
export function startHttpLoad(url: string, concurrency = 8): HttpLoad {
  const report: HttpLoadReport = { requests: 0, failed: 0, failures: [], servedBy: {} };
  let stopping = false;
  const once = () =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(url, { agent: false, headers: { connection: 'close' }, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timed out after 5 s')));
      req.on('error', reject);
      req.end();
    });
  const client = async () => {
    while (!stopping) {
      report.requests++;
      try {
        const { status, body } = await once();
        if (status < 200 || status > 299) throw new Error(`HTTP ${status}`);
        const { instance, version } = JSON.parse(body) as { instance?: string; version?: string };
        const who = `${instance}@${version}`;
        report.servedBy[who] = (report.servedBy[who] ?? 0) + 1;
      } catch (err) {
        report.failed++;
        if (report.failures.length < 5) report.failures.push(`${new Date().toISOString()} ${(err as Error).message}`);
      }
    }
  };
  const clients = Array.from({ length: concurrency }, client);
  return {
    async stop() {
      stopping = true;
      await Promise.all(clients);
      return report;
    },
  };
}
