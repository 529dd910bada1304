/**
 * Tiny analyser for V8 `.cpuprofile` files (what `node --cpu-prof` writes): self time per
 * function and per package, so a profile can be read without a browser.
 *
 *   node bench/profile-top.ts bench/results/prof/<file>.cpuprofile [--top 25] [--skip-ms 1500] [--json]
 *   node bench/profile-top.ts <file>.cpuprofile --callers writev     who calls a hot function
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface FunctionTime {
  readonly name: string;
  readonly location: string;
  readonly group: string;
  readonly selfMs: number;
  readonly percent: number;
}

export interface GroupTime {
  readonly group: string;
  readonly selfMs: number;
  readonly percent: number;
}

export interface ProfileSummary {
  readonly file: string;
  /** Sampled wall time (ms), idle included. */
  readonly totalMs: number;
  /** Sampled time minus `(idle)`: roughly the CPU time of the main thread. */
  readonly busyMs: number;
  /** Percentages below are of busyMs. */
  readonly functions: readonly FunctionTime[];
  readonly groups: readonly GroupTime[];
  /** The gateway's own functions (src/…) by inclusive time: self + everything they call. */
  readonly ownCode: readonly FunctionTime[];
  readonly skippedMs: number;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Which package or part of the program a script URL belongs to. */
export function groupOf(url: string, functionName: string): string {
  if (url === '') {
    if (functionName === '(garbage collector)' || functionName === '(program)' || functionName === '(idle)' || functionName === '(root)') return functionName;
    return '(native/builtin)';
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith('node:')) {
    // node:internal/streams/readable → node:streams ; node:http → node:http
    const rest = url.slice(5).replace(/^internal\/(deps\/)?/, '');
    return `node:${rest.split('/')[0]}`;
  }
  if (url.startsWith('file://')) {
    const rel = projectPath(url);
    const parts = rel.split('/');
    // src/gateway/relay/pump.ts → src/gateway/relay ; src/server.ts → src
    return parts.length > 2 ? parts.slice(0, parts.length - 1).slice(0, 3).join('/') : parts.slice(0, parts.length - 1).join('/') || rel;
  }
  return url;
}

/** file:///…/src/a/b.ts → src/a/b.ts, also for a tree exported elsewhere (load.ts --rev). */
function projectPath(url: string): string {
  const path = fileURLToPath(url);
  const src = path.lastIndexOf('/src/');
  return src >= 0 && !path.includes('/node_modules/') ? path.slice(src + 1) : relative(ROOT, path);
}

function shortLocation(frame: CallFrame): string {
  if (frame.url === '') return '';
  let where = frame.url;
  if (where.startsWith('file://')) {
    where = projectPath(where);
    const nm = where.lastIndexOf('node_modules/');
    if (nm >= 0) where = where.slice(nm + 'node_modules/'.length);
  }
  return `${where}:${frame.lineNumber + 1}`;
}

export interface SummarizeOptions {
  /** Rows in the per-function tables (default 25). */
  readonly top?: number;
  /** Drop the first milliseconds of the profile: process start-up, module loading, type stripping. */
  readonly skipMs?: number;
}

/** What a frame is called in the tables; natives are named after the JS frame that called them. */
function keyOf(frame: CallFrame): string {
  return `${frame.functionName}\u0000${frame.url}\u0000${frame.lineNumber}\u0000${frame.columnNumber}`;
}

export function summarizeProfile(file: string, options: SummarizeOptions = {}): ProfileSummary {
  const top = options.top ?? 25;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }
  // A native frame (writev, JSON.parse when not inlined…) is counted in its caller's group:
  // "node:stream_base_commons" tells more than "(native)".
  const groupOfNode = new Map<number, string>();
  const nodeGroup = (id: number): string => {
    const known = groupOfNode.get(id);
    if (known !== undefined) return known;
    const frame = byId.get(id)!.callFrame;
    let group = groupOf(frame.url, frame.functionName);
    if (group === '(native/builtin)' || frame.url.startsWith('wasm://')) {
      // wasm: undici's llhttp parser (or the type stripper at start-up), named by its caller.
      const parent = parentOf.get(id);
      group = parent === undefined ? group : nodeGroup(parent);
      if (group === '(root)') group = '(native/builtin)';
    }
    groupOfNode.set(id, group);
    return group;
  };

  const skipUs = (options.skipMs ?? 0) * 1000;
  const selfUs = new Map<number, number>();
  const inclusiveUs = new Map<string, number>();
  let elapsed = 0;
  // timeDeltas[i] is the time since the previous sample; attribute it to sample i's node,
  // the convention of Chrome DevTools.
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = Math.max(0, profile.timeDeltas[i] ?? 0);
    elapsed += delta;
    if (elapsed < skipUs) continue;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
    // Inclusive: every distinct function on the stack, once per sample (recursion-safe).
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const key = keyOf(byId.get(at)!.callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusiveUs.set(key, (inclusiveUs.get(key) ?? 0) + delta);
    }
  }
  const perFunction = new Map<string, { name: string; location: string; group: string; us: number }>();
  const perGroup = new Map<string, number>();
  const frames = new Map<string, CallFrame>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    totalUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const group = nodeGroup(id);
    const key = `${keyOf(frame)}\u0000${group}`;
    frames.set(keyOf(frame), frame);
    const entry = perFunction.get(key) ?? { name: frame.functionName || '(anonymous)', location: shortLocation(frame), group, us: 0 };
    entry.us += us;
    perFunction.set(key, entry);
    perGroup.set(group, (perGroup.get(group) ?? 0) + us);
  }
  for (const node of profile.nodes) frames.set(keyOf(node.callFrame), node.callFrame);
  const busyUs = totalUs - idleUs;
  const pct = (us: number): number => (busyUs > 0 ? (100 * us) / busyUs : 0);
  const functions = [...perFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((f) => ({ name: f.name, location: f.location, group: f.group, selfMs: f.us / 1000, percent: pct(f.us) }));
  const groups = [...perGroup.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([group, us]) => ({ group, selfMs: us / 1000, percent: pct(us) }));
  const ownCode = [...inclusiveUs.entries()]
    .filter(([key]) => groupOf(frames.get(key)!.url, '').startsWith('src'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, us]) => {
      const frame = frames.get(key)!;
      return { name: frame.functionName || '(anonymous)', location: shortLocation(frame), group: groupOf(frame.url, ''), selfMs: us / 1000, percent: pct(us) };
    });
  return { file, totalMs: totalUs / 1000, busyMs: busyUs / 1000, skippedMs: options.skipMs ?? 0, functions, groups, ownCode };
}

/** Markdown tables: top functions by self time, then self time per package. */
export function renderProfile(summary: ProfileSummary, maxGroups = 20): string {
  const lines: string[] = [];
  const skipped = summary.skippedMs > 0 ? ` after the first ${summary.skippedMs.toFixed(0)} ms (start-up)` : '';
  lines.push(`Profile ${summary.file}: ${summary.totalMs.toFixed(0)} ms sampled${skipped}, ${summary.busyMs.toFixed(0)} ms busy (not idle); % of busy time`);
  lines.push('');
  lines.push('Top functions by self time (a native function is grouped with the JS code that called it)');
  lines.push('');
  lines.push('| # | self ms | self % | function | group | location |');
  lines.push('|---:|---:|---:|---|---|---|');
  summary.functions.forEach((f, i) => {
    lines.push(`| ${i + 1} | ${f.selfMs.toFixed(1)} | ${f.percent.toFixed(1)} | \`${f.name}\` | ${f.group} | ${f.location} |`);
  });
  lines.push('');
  lines.push('Self time by group (package, node core module, or src/ directory)');
  lines.push('');
  lines.push('| group | self ms | self % |');
  lines.push('|---|---:|---:|');
  for (const g of summary.groups.slice(0, maxGroups)) lines.push(`| ${g.group} | ${g.selfMs.toFixed(1)} | ${g.percent.toFixed(1)} |`);
  if (summary.ownCode.length > 0) {
    lines.push('');
    lines.push('The gateway\'s own functions by inclusive time (self + callees; nested rows overlap)');
    lines.push('');
    lines.push('| # | incl. ms | incl. % | function | location |');
    lines.push('|---:|---:|---:|---|---|');
    summary.ownCode.forEach((f, i) => lines.push(`| ${i + 1} | ${f.selfMs.toFixed(1)} | ${f.percent.toFixed(1)} | \`${f.name}\` | ${f.location} |`));
  }
  return lines.join('\n');
}

/** Where a function's self time comes from: its callers' stacks, heaviest first. */
export function callers(file: string, functionName: string, depth = 8, top = 8): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0));
  }
  const stacks = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    if (byId.get(id)!.callFrame.functionName !== functionName) continue;
    total += us;
    const parts: string[] = [];
    for (let at = parentOf.get(id); at !== undefined && parts.length < depth; at = parentOf.get(at)) {
      const f = byId.get(at)!.callFrame;
      if (f.functionName === '(root)') break;
      parts.push(`${f.functionName || '(anonymous)'} ${shortLocation(f)}`);
    }
    const key = parts.join('\n    ← ');
    stacks.set(key, (stacks.get(key) ?? 0) + us);
  }
  const lines = [`${functionName}: ${(total / 1000).toFixed(1)} ms self in all; heaviest caller stacks:`];
  for (const [stack, us] of [...stacks.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${(us / 1000).toFixed(1)} ms\n    ← ${stack}`);
  }
  return lines.join('\n');
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, 'skip-ms': { type: 'string', default: '0' }, callers: { type: 'string' }, json: { type: 'boolean' } },
  });
  const file = positionals[0];
  const top = Number(values.top);
  const skipMs = Number(values['skip-ms']);
  if (file === undefined || !Number.isInteger(top) || top <= 0 || !Number.isFinite(skipMs) || skipMs < 0) {
    process.stderr.write('usage: node bench/profile-top.ts <file.cpuprofile> [--top 25] [--skip-ms 0] [--callers <functionName>] [--json]\n');
    process.exit(2);
  }
  if (values.callers !== undefined) process.stdout.write(`${callers(file, values.callers)}\n`);
  else {
    const summary = summarizeProfile(file, { top, skipMs });
    process.stdout.write(values.json === true ? `${JSON.stringify(summary, null, 2)}\n` : `${renderProfile(summary)}\n`);
  }
}
