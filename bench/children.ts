import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { client } from './ipc.ts';
import { sleep } from './stats.ts';

// The bench's processes: children pinned to a core and driven over IPC, and what /proc tells about
// the CPU they and everything else on the machine used.

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export type Call = <T = unknown>(cmd: string, args?: unknown) => Promise<T>;

export interface Child {
    process: ChildProcess;
    call: Call;
}

const startedAt = performance.now();


export const elapsedS = function (): number {

    return (performance.now() - startedAt) / 1000;
};


export const log = function (...parts: unknown[]): void {

    console.log(`[${elapsedS().toFixed(0).padStart(4)}s]`, ...parts);
};


const canPin = function (): boolean {

    try {
        execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
        return cpus().length >= 2;
    }
    catch {
        return false;
    }
};


export const PINNED = canPin();


export const spawnChild = function (script: string, core: number, nodeFlags: string[] = []): Child {

    const node = [process.execPath, ...nodeFlags, '--import', 'tsx', join(ROOT, 'bench', script)];
    const command = PINNED ? ['taskset', '-c', String(core), ...node] : node;
    // 5000 sockets plus the server's own files: raise the soft fd limit when it is lower
    const wrapper = 'n=$(ulimit -n); if [ "$n" != unlimited ] && [ "$n" -lt 12000 ]; then ulimit -n 12000 || echo "bench: could not raise ulimit -n above $n" >&2; fi; exec "$@"';
    const child = spawn('/bin/sh', ['-c', wrapper, 'sh', ...command], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return { process: child, call: client(child, script) as Call };
};


export const stopChild = async function (child: Child): Promise<void> {

    if (child.process.exitCode !== null) {
        return;
    }

    const exited = new Promise((resolve) => child.process.once('exit', resolve));
    try {
        await Promise.race([child.call('exit'), sleep(10_000)]);
    }
    catch {
        // Reported by the exit below
    }

    await Promise.race([exited, sleep(5000)]);
    if (child.process.exitCode === null) {
        child.process.kill('SIGKILL');
    }
};


const CLOCK_TICKS = (() => {

    try {
        return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    }
    catch {
        return 100;
    }
})();


/** CPU seconds of a process from /proc (user + system); 0 when it cannot be read. */
const processCpu = function (pid: number | undefined): number {

    try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;            // utime, stime
    }
    catch {
        return 0;
    }
};


export interface MachineSample {
    at: number;
    /** CPU seconds the whole machine spent in user and system mode, plus time stolen from it. */
    busy: number;
    own: number;
}


// The box is shared: other sessions' tests, builds and servers may run on these two cores during
// a bench, and a phase that had to share them measures the neighbours. What this process tree did
// not use of the machine's busy time is someone else's; irq/softirq are left out because loopback
// packet processing of our own traffic lands there.
export const machineSample = function (pids: (number | undefined)[]): MachineSample | null {

    try {
        const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
        const [user = 0, nice = 0, system = 0, , , , , steal = 0] = fields;
        const self = process.cpuUsage();
        const own = pids.reduce<number>((sum, pid) => sum + processCpu(pid), (self.user + self.system) / 1e6);
        return { at: performance.now(), busy: (user + nice + system + steal) / CLOCK_TICKS, own };
    }
    catch {
        return null;
    }
};


/** Other processes' CPU between two samples, in % of one core. */
export const foreignCpu = function (start: MachineSample | null, end: MachineSample | null): number | null {

    if (!start || !end || end.at <= start.at) {
        return null;
    }

    const foreign = (end.busy - start.busy) - (end.own - start.own);
    return Math.max(0, foreign / ((end.at - start.at) / 1000) * 100);
};
