// Measures a variant's server process from inside over a window: CPU time, V8 heap allocated and GC pauses.
import { GCProfiler, getHeapStatistics } from 'node:v8';

/** What the server process spent between `start` and `stop`. */
export interface ProcessSample {
  /** User + system CPU time of the whole process (main thread and V8's helper threads), in µs. */
  cpuUs: number;
  /** Wall-clock length of the window, in µs. */
  wallUs: number;
  /** Bytes allocated on the V8 heap: the growth of the used heap plus what every GC in the window freed. */
  allocatedBytes: number;
  /** Time the main thread spent in GC pauses, in µs. */
  gcUs: number;
  /** GC pauses in the window. */
  gcCount: number;
  /** Start and end of the window on the monotonic clock, in µs (the clock CPU profiles are timed with). */
  fromUs: number;
  toUs: number;
}

export type MeterRequest = { meter: 'start' } | { meter: 'stop' };
export type MeterReply = { meter: 'started' } | { meter: 'stopped'; sample: ProcessSample };

/**
 * Answers the parent's `start`/`stop` messages over the IPC channel. Costs nothing between windows; during one,
 * V8's GC profiler records each collection (a few per second under load), which is what allocation is read from.
 */
export function serveMeter(): void {
  if (!process.send) return;
  let window: { cpu: NodeJS.CpuUsage; wall: bigint; used: number; profiler: GCProfiler } | undefined;
  process.on('message', (message: MeterRequest) => {
    if (message?.meter === 'start') {
      window?.profiler.stop();
      const profiler = new GCProfiler();
      profiler.start();
      window = {
        cpu: process.cpuUsage(),
        wall: process.hrtime.bigint(),
        used: getHeapStatistics().used_heap_size,
        profiler,
      };
      reply({ meter: 'started' });
    } else if (message?.meter === 'stop' && window) {
      const cpu = process.cpuUsage(window.cpu);
      const now = process.hrtime.bigint();
      const wallUs = Number(now - window.wall) / 1000;
      const used = getHeapStatistics().used_heap_size;
      const gcs = window.profiler.stop()?.statistics ?? [];
      let freed = 0;
      let gcUs = 0;
      for (const gc of gcs) {
        freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
        gcUs += gc.cost;
      }
      const allocatedBytes = used - window.used + freed;
      window = undefined;
      reply({
        meter: 'stopped',
        sample: {
          cpuUs: cpu.user + cpu.system,
          wallUs,
          allocatedBytes,
          gcUs,
          gcCount: gcs.length,
          fromUs: Number(now / 1000n) - wallUs,
          toUs: Number(now / 1000n),
        },
      });
    }
  });
}

function reply(message: MeterReply): void {
  process.send?.(message);
}
