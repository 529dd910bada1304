/**
 * What a stretch of work allocates, by the function that allocated it: V8's sampling heap
 * profiler with the objects that were collected kept in the samples (by default it reports only
 * what is still alive, which says nothing about garbage made per request). Used in-process by
 * `billing-store.ts --alloc` and, as a preload, by `load.ts --alloc` (bench/alloc-preload.ts).
 *
 * Sizes are sampled (one sample per `SAMPLING_INTERVAL` bytes on average), so per-request
 * figures are estimates good to a few percent over a few thousand requests.
 */
import type { HeapProfiler } from 'node:inspector';
import { Session } from 'node:inspector/promises';

const SAMPLING_INTERVAL = 256;

export type HeapProfile = HeapProfiler.SamplingHeapProfile;
type HeapNode = HeapProfiler.SamplingHeapProfileNode;

/** V8 takes these two since 12.x; Node's type definitions do not list them yet. */
const SAMPLING: HeapProfiler.StartSamplingParameterType & { includeObjectsCollectedByMajorGC: boolean; includeObjectsCollectedByMinorGC: boolean } = {
  samplingInterval: SAMPLING_INTERVAL,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
};

/** Starts sampling in this process; the returned function stops and hands back the profile. */
export async function startSampling(): Promise<() => Promise<HeapProfile>> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', SAMPLING);
  return async () => {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    session.disconnect();
    return profile;
  };
}

export interface AllocationSummary {
  /** Bytes allocated per unit of work (per request). */
  readonly bytesPerUnit: number;
  /** By the innermost frame of our own code (`src/`), else by the allocating function: bytes per unit. */
  readonly top: ReadonlyArray<{ readonly site: string; readonly bytesPerUnit: number }>;
}

function place(url: string, line: number): string {
  const ours = /\/((?:src|bench)\/.*)$/.exec(url);
  if (ours !== null) return `${ours[1]}:${line + 1}`;
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency !== null) return dependency[1]!;
  return url === '' ? '(native)' : url;
}

/**
 * Attributes every sampled byte to a site — the innermost frame of the gateway's own code on the
 * allocating stack, so that what Node or a dependency allocates on our behalf is charged to the
 * line that asked for it — and divides by `units`.
 */
export function summarise(profile: HeapProfile, units: number, top = 25): AllocationSummary {
  const bySite = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode, ownSite: string | undefined): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    const here = `${functionName || '(anonymous)'} ${place(url, lineNumber)}`;
    const site = /\/src\//.test(url) ? here : ownSite;
    const size = node.selfSize;
    if (size > 0) {
      total += size;
      const key = site ?? `${here} (no gateway frame)`;
      bySite.set(key, (bySite.get(key) ?? 0) + size);
    }
    for (const child of node.children) walk(child, site);
  };
  walk(profile.head, undefined);
  return {
    bytesPerUnit: total / units,
    top: [...bySite]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([site, bytes]) => ({ site, bytesPerUnit: bytes / units })),
  };
}

export function formatSummary(summary: AllocationSummary, unit: string): string {
  const kb = (bytes: number) => (bytes / 1024).toFixed(2).padStart(7);
  const lines = [`allocated: ${kb(summary.bytesPerUnit).trim()} KB per ${unit} (sampled)`];
  for (const { site, bytesPerUnit } of summary.top) lines.push(`  ${kb(bytesPerUnit)} KB  ${site}`);
  return lines.join('\n');
}
