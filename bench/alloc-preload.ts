/**
 * Preload for a gateway under `bench/billing.ts --alloc` (`node --import bench/alloc-preload.ts …`):
 * the first SIGUSR2 starts sampling allocations (allocations.ts), the next writes the profile to
 * `$MAAS_BENCH_ALLOC_OUT`; each step prints a line the orchestrator waits for. Until signalled
 * it costs nothing.
 */
import { writeFileSync } from 'node:fs';
import { startSampling, type HeapProfile } from './allocations.ts';

const out = process.env.MAAS_BENCH_ALLOC_OUT;
let stop: (() => Promise<HeapProfile>) | undefined;

process.on('SIGUSR2', () => {
  if (out === undefined) return;
  if (stop === undefined) {
    void startSampling().then((stopSampling) => {
      stop = stopSampling;
      process.stdout.write('bench: allocation sampling on\n');
    });
    return;
  }
  const stopSampling = stop;
  stop = undefined;
  void stopSampling().then((profile) => {
    writeFileSync(out, JSON.stringify(profile));
    process.stdout.write('bench: allocation profile written\n');
  });
});
