// Summarises V8 .cpuprofile files (from `npm run bench -- --profile DIR`) as self time by package and
// by function, for one measured phase (window.json beside the file; --phase NAME) or a busiest window.
// Usage: tsx bench/profile.ts FILE.cpuprofile [--phase queue] [--top 25] [--by package|file] [--window-ms N]
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderTable } from './stats.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const BUCKET_MS = 100;

/** Sample times in ms from the start of the profile. */
function sampleTimes(profile: CpuProfile): number[] {
  const at: number[] = [];
  let t = 0;
  for (const d of profile.timeDeltas) at.push((t += d / 1000));
  return at;
}

/** Self time (ms) per node id, for samples inside [fromMs, toMs) of the profile. */
function selfTimes(
  profile: CpuProfile,
  at: number[],
  [fromMs, toMs]: [number, number],
): { self: Map<number, number>; spanMs: number } {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    const when = at[i] ?? 0;
    if (when >= fromMs && when < toMs)
      self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return { self, spanMs: Math.min(toMs, at[at.length - 1] ?? 0) - fromMs };
}

/** The busiest `windowMs` stretch: the load phase, not start-up (module loading) or shutdown. */
function busiestWindow(
  profile: CpuProfile,
  at: number[],
  idleId: number | undefined,
  windowMs: number,
): [number, number] {
  const busy: number[] = [];
  profile.samples.forEach((id, i) => {
    if (id === idleId) return;
    const b = Math.floor((at[i] ?? 0) / BUCKET_MS);
    busy[b] = (busy[b] ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000;
  });
  const k = Math.max(1, Math.round(windowMs / BUCKET_MS));
  let best = 0;
  let bestSum = -1;
  for (let start = 0; start + k <= Math.max(busy.length, k); start++) {
    let sum = 0;
    for (let b = start; b < start + k; b++) sum += busy[b] ?? 0;
    if (sum > bestSum) [best, bestSum] = [start, sum];
  }
  return [best * BUCKET_MS, (best + k) * BUCKET_MS];
}

/** `node_modules/fastify` → "fastify", `/src/server/x.ts` → "src/server/x.ts", node internals → "node:…". */
export function groupOf(url: string, by: 'package' | 'file'): string {
  if (url === '') return '(native, gc, program)';
  if (url.startsWith('node:')) return by === 'package' ? 'node internals' : url;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return by === 'package' ? (nm[1] ?? url) : url.slice(url.indexOf('node_modules/'));
  const src = /\/((?:src|bench|bin)\/.*)$/.exec(url);
  if (src)
    return by === 'package'
      ? `outpost ${(src[1] ?? '').split('/').slice(0, 2).join('/')}`
      : (src[1] ?? url);
  return url;
}

function addTo(map: Map<string, number>, key: string, ms: number): void {
  map.set(key, (map.get(key) ?? 0) + ms);
}

/** The window to analyse: --window-ms (busiest stretch), else window.json beside the file, else all. */
interface PhaseWindow {
  fromMs: number;
  toMs: number;
}

function chooseWindow(
  path: string,
  profile: CpuProfile,
  at: number[],
  windowMs: number,
  phase: string | undefined,
): { range: [number, number]; how: string } {
  if (windowMs > 0) {
    const idleId = profile.nodes.find((n) => n.callFrame.functionName === '(idle)')?.id;
    return { range: busiestWindow(profile, at, idleId, windowMs), how: 'busiest window' };
  }
  const file = join(dirname(path), 'window.json');
  if (existsSync(file)) {
    const phases = JSON.parse(readFileSync(file, 'utf8')) as Record<string, PhaseWindow>;
    const name = phase ?? Object.keys(phases)[0] ?? '';
    const w = phases[name];
    if (!w)
      throw new Error(`${file}: no phase '${name}'; phases: ${Object.keys(phases).join(', ')}`);
    return { range: [w.fromMs, w.toMs], how: `phase '${name}'` };
  }
  return { range: [0, Number.POSITIVE_INFINITY], how: 'whole run' };
}

function summarise(
  path: string,
  top: number,
  by: 'package' | 'file',
  windowMs: number,
  phase: string | undefined,
): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const at = sampleTimes(profile);
  const { range, how } = chooseWindow(path, profile, at, windowMs, phase);
  const { self, spanMs: total } = selfTimes(profile, at, range);
  const byGroup = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  for (const node of profile.nodes) {
    const ms = self.get(node.id) ?? 0;
    if (ms === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    if (name === '(idle)') continue;
    busy += ms;
    addTo(byGroup, groupOf(url, by), ms);
    addTo(byFunction, `${name} ${groupOf(url, 'file')}:${lineNumber + 1}`, ms);
  }
  const rows = (map: Map<string, number>): string[][] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, ms]) => [k, ms.toFixed(0), `${((ms / busy) * 100).toFixed(1)}%`]);
  return [
    `${path}: ${total.toFixed(0)} ms profiled (${how}), ${busy.toFixed(0)} ms busy`,
    renderTable([by, 'self ms', '% busy'], rows(byGroup)),
    '',
    renderTable(['function', 'self ms', '% busy'], rows(byFunction)),
  ].join('\n');
}

const { values, positionals } = parseArgs({
  options: {
    top: { type: 'string', default: '25' },
    by: { type: 'string', default: 'package' },
    'window-ms': { type: 'string', default: '0' },
    phase: { type: 'string' },
  },
  allowPositionals: true,
});
const by = values.by === 'file' ? 'file' : 'package';
for (const file of positionals)
  console.log(
    `${summarise(file, Number(values.top), by, Number(values['window-ms']), values.phase)}\n`,
  );
