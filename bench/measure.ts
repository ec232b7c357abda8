import { readFile } from 'node:fs/promises';

/** CPU time the whole machine spent busy (all processes, all cores) since boot, in seconds, from /proc/stat. */
async function machineBusySeconds(): Promise<number> {
  const [cpuLine] = (await readFile('/proc/stat', 'utf8')).split('\n');
  // cpu  user nice system idle iowait irq softirq steal ...: everything except idle and iowait is work.
  const [user, nice, system, , , irq, softirq, steal] = cpuLine.trim().split(/\s+/).slice(1).map(Number);
  const clockTicksPerSecond = 100; // USER_HZ, fixed at 100 on Linux
  return (user + nice + system + irq + softirq + (steal ?? 0)) / clockTicksPerSecond;
}

/**
 * Wall-clock seconds of `work`, and the CPU seconds the machine spent meanwhile. The CPU figure counts every
 * process (PostgreSQL's backend, the compressor, the S3 server), which is the point: on a small machine they
 * all share the same cores, so cpuSeconds / cores is a floor under the wall time no implementation can beat.
 */
export async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; cpuSeconds: number; result: T }> {
  const busyBefore = await machineBusySeconds();
  const started = process.hrtime.bigint();
  const result = await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds, cpuSeconds: (await machineBusySeconds()) - busyBefore, result };
}

/** Peak resident memory of a process so far (VmHWM), in MiB. */
export async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return Math.round(kib / 1024);
}

/** CPU time (user + system) a process has used so far, in seconds, from /proc/<pid>/stat. */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces, hence the last ")"): utime and stime are 14 and 15.
  const [utime, stime] = stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(11, 13).map(Number);
  return (utime + stime) / 100; // USER_HZ
}

export function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}
