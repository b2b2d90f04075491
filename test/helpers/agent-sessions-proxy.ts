// A loopback proxy in front of the test server that answers POST /v1/runner/agent-sessions itself
// (recording each report) and forwards every other request, long polls included, unchanged.
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ReportAgentSessionsBody } from '../../src/protocol/agents.ts';

export interface SessionsProxy {
  url: string;
  /** The reports received, oldest first. */
  reports: ReportAgentSessionsBody[];
  close(): Promise<void>;
}

export async function startSessionsProxy(upstream: string): Promise<SessionsProxy> {
  const reports: ReportAgentSessionsBody[] = [];
  const agent = new Agent({ keepAlive: true });
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/v1/runner/agent-sessions') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const report = JSON.parse(body) as ReportAgentSessionsBody;
        reports.push(report);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ stored: report.sessions.length }));
      });
      return;
    }
    const target = new URL(req.url ?? '/', upstream);
    const forward = request(target, { method: req.method, headers: req.headers, agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    reports,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
