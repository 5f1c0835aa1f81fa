import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

interface ProcStat {
  ppid: number;
  /** utime + stime, in clock ticks. */
  ticks: number;
}

/** Fields 4 (ppid), 14 (utime) and 15 (stime) of proc(5); the name (field 2) may hold spaces. */
function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited meanwhile
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

/** CPU ticks of `root` and every live descendant, by pid. */
function treeTicks(root: number): Map<number, number> {
  const stats = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const stat = readStat(pid);
    if (stat) stats.set(pid, stat);
  }
  const inTree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, stat] of stats)
      if (!inTree.has(pid) && inTree.has(stat.ppid)) {
        inTree.add(pid);
        grew = true;
      }
  }
  const ticks = new Map<number, number>();
  for (const pid of inTree) {
    const stat = stats.get(pid);
    if (stat) ticks.set(pid, stat.ticks);
  }
  return ticks;
}

/**
 * Server CPU (user + system) spent between `start()` and `stop()`: the appliance process and
 * its SCEP workers (its descendants), read from /proc/<pid>/stat, so the load generator in this
 * process and anything else on the machine are not counted. A process that starts meanwhile
 * counts from zero; one that exits meanwhile is lost (none should while a load runs).
 */
export class ServerCpu {
  private before = new Map<number, number>();

  constructor(private readonly rootPid: number) {}

  start(): void {
    this.before = treeTicks(this.rootPid);
  }

  /** CPU seconds since start(). */
  stop(): number {
    let ticks = 0;
    for (const [pid, now] of treeTicks(this.rootPid)) ticks += now - (this.before.get(pid) ?? 0);
    return ticks / ticksPerSecond;
  }
}
