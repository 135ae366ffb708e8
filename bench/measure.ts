import { foreignCpu, log, machineSample, elapsedS, type Child } from './children.ts';
import { CLIENT_CPU_LIMIT, DEADLINE_S, FOREIGN_CPU_LIMIT, KNEE_LAG_MS, KNEE_P99_MS, PLAN_S, QUIET_BUDGET_MS, RETRY_BUDGET_MS, STEP_SECONDS, STEPS, THROUGHPUT_N } from './config.ts';
import type { MarkerSet, RecordingSummary } from './recorder.ts';
import { round, sleep } from './stats.ts';
import type { PhaseArgs, Scenario, ServerRun } from './types.ts';

// One measured phase: the clients record, something drives the broadcasts (the server's own timer,
// or form submissions over HTTP), then deliveries, CPU and the neighbours' load come together
// into a Scenario. Plus the time budget that keeps `npm run bench` within 10 minutes.

let nextBase = 1;
// The server's run window of each scenario, for cutting CPU profiles to it
export const windows = new WeakMap<Scenario, ServerRun['window']>();

const planned = new Set(Object.keys(PLAN_S));
let quietSpent = 0;
let retrySpent = 0;


export const stageDone = function (stage: string): void {

    planned.delete(stage);
};


/** Whether `seconds` more work still leaves the rest of the plan time to finish by the deadline. */
export const canAfford = function (seconds: number): boolean {

    const reserved = [...planned].reduce((sum, stage) => sum + PLAN_S[stage]!, 0);
    return elapsedS() + seconds + reserved <= DEADLINE_S;
};


/** Waits until every subscriber got every broadcast, or delivery stops making progress. */
const waitDelivered = async function (clients: Child, target: number, quietMs: number, capMs: number): Promise<void> {

    const until = performance.now() + capMs;
    let last = -1;
    let lastChange = performance.now();
    while (performance.now() < until) {
        const progress = await clients.call<{ total: number }>('progress');
        if (progress.total >= target) {
            return;
        }

        if (progress.total !== last) {
            last = progress.total;
            lastChange = performance.now();
        }
        else if (performance.now() - lastChange > quietMs) {
            return;
        }

        await sleep(50);
    }
};


/** Lets a backlog of an earlier phase finish arriving, so it does not load the next one. */
const waitQuiet = async function (clients: Child): Promise<void> {

    const until = performance.now() + 10_000;
    while (performance.now() < until) {
        const progress = await clients.call<{ sinceLastFrameMs: number | null }>('progress');
        if (progress.sinceLastFrameMs === null || progress.sinceLastFrameMs > 300) {
            return;
        }

        await sleep(100);
    }
};


/**
 * How a phase's broadcasts are made: `run(base)` sends them (ids from base) and resolves with the
 * server's account of the run once they are all out; `after()`, when given, is asked once the
 * clients have them all (the server's figures for a run driven from outside).
 */
export interface Driver {
    server: Child;
    markers?: MarkerSet;
    run(base: number): Promise<ServerRun>;
    after?(): Promise<ServerRun>;
}


/** The built-in driver: the server process sends at `rate` from a timer (no HTTP in the numbers). */
export const timerDriver = function (server: Child, args: PhaseArgs): Driver {

    // Under offered load (the steps) latency counts from when a broadcast was due, not when the
    // overloaded sender got to it; at the steady latency rates the two are the same
    const clock = args.kind === 'throughput' ? 'schedule' : 'send';
    return { server, run: (base) => server.call<ServerRun>('run', { path: args.path, rate: args.rate, count: args.count, base, clock }) };
};


export const measure = async function (driver: Driver, clients: Child, args: PhaseArgs): Promise<Scenario> {

    await waitQuiet(clients);
    const pids = [driver.server.process.pid, clients.process.pid];
    const machine0 = machineSample(pids);
    const base = nextBase;
    nextBase += args.count + 1000;
    await clients.call('record', { base, count: args.count, warmup: args.warmup, markers: driver.markers ?? 'bench' });
    let run = await driver.run(base);
    // A step far past its knee may take long to drain; 15 s after the last send it is decided anyway
    await waitDelivered(clients, args.n * args.count, 2000, args.kind === 'throughput' ? 15_000 : 30_000);
    if (driver.after) {
        run = { ...run, ...await driver.after() };
    }

    const seen = await clients.call<RecordingSummary>('summary', { n: args.n });
    const progress = await clients.call<{ open: Record<string, number> }>('progress');
    const foreign = foreignCpu(machine0, machineSample(pids));

    const reasons: string[] = [];
    if (foreign !== null && foreign > FOREIGN_CPU_LIMIT) {
        reasons.push(`machine busy: other processes used ${foreign.toFixed(0)}% of a core`);
    }

    if (seen.client_cpu > CLIENT_CPU_LIMIT) {
        reasons.push(`client-bound (${seen.client_cpu.toFixed(0)}% of its core)`);
    }

    const open = progress.open[args.client] ?? 0;
    if (open < args.n) {
        reasons.push(`${args.n - open} of ${args.n} connections lost`);
    }

    if (run.errors) {
        reasons.push(`${run.errors} ${args.kind === 'real' ? 'form submissions' : 'saves'} failed`);
    }

    const scenario: Scenario = {
        name: `${args.kind}/${args.label}/n=${args.n}${args.kind === 'throughput' ? `/rate=${args.rate}` : ''}`,
        kind: args.kind,
        path: args.label,
        client: args.client,
        n: args.n,
        rate: args.rate,
        broadcasts: seen.measured,
        p50_ms: round(seen.last_p50_ms),
        p99_ms: round(seen.last_p99_ms),
        ratio_p50: null,
        ratio_p99: null,
        first_p50_ms: round(seen.first_p50_ms),
        first_p99_ms: round(seen.first_p99_ms),
        delivery_p50_ms: round(seen.delivery_p50_ms),
        delivery_p99_ms: round(seen.delivery_p99_ms),
        delivered: seen.delivered,
        expected: seen.expected,
        renders_per_broadcast: round(run.renders_per_broadcast, 3)!,
        templates_per_broadcast: round(run.templates_per_broadcast, 3)!,
        queries_per_broadcast: round(run.queries_per_broadcast, 3)!,
        frames_per_broadcast: round(run.frames_per_broadcast, 3)!,
        db_ms_per_broadcast: round(run.db_ms_per_broadcast, 3)!,
        loop_lag_p99_ms: round(run.loop_lag_p99_ms),
        server_cpu: round(run.server_cpu, 1),
        server_cpu_sys: round(run.server_cpu_sys, 1),
        server_us_per_delivery: seen.delivered_all ? round(run.server_cpu_ms * 1000 / seen.delivered_all, 2) : null,
        cpu_ratio: null,
        client_cpu: round(seen.client_cpu, 1),
        client_cpu_sys: round(seen.client_cpu_sys, 1),
        foreign_cpu: round(foreign, 1),
        achieved_rate: round(run.achieved_rate, 1),
        schedule_late_p99_ms: round(run.schedule_late_p99_ms),
        split: { hook_p50_ms: round(run.hook_p50_ms, 3), publish_p50_ms: round(run.publish_p50_ms, 3), emit_p50_ms: round(run.emit_p50_ms, 3), emit_p99_ms: round(run.emit_p99_ms, 3) },
        ...(run.real_split ? { real_split: run.real_split } : {}),
        order_errors: seen.disorder + seen.seq_errors,
        valid: reasons.length === 0
    };

    if (reasons.length) {
        scenario.invalid_reason = reasons.join('; ');
    }

    windows.set(scenario, run.window);
    log(`${scenario.name.padEnd(44)} p50 ${String(scenario.p50_ms).padStart(7)} p99 ${String(scenario.p99_ms).padStart(7)} ms  first p50 ${scenario.first_p50_ms}  delivered ${seen.delivered}/${seen.expected}  lag p99 ${scenario.loop_lag_p99_ms}  cpu srv ${scenario.server_cpu}% (${scenario.server_us_per_delivery} µs/delivery) cli ${scenario.client_cpu}% other ${scenario.foreign_cpu}%  frames/b ${scenario.frames_per_broadcast}${scenario.valid ? '' : `  INVALID: ${scenario.invalid_reason}`}`);
    return scenario;
};


const machineQuiet = async function (pids: (number | undefined)[], maxMs: number): Promise<void> {

    const until = performance.now() + Math.min(maxMs, QUIET_BUDGET_MS - quietSpent);
    while (performance.now() < until) {
        const start = machineSample(pids);
        await sleep(500);
        quietSpent += 500;
        const foreign = foreignCpu(start, machineSample(pids));
        if (foreign === null || foreign <= FOREIGN_CPU_LIMIT) {
            return;
        }
    }
};


/** measure(), run once more when other processes disturbed it and the budgets allow. */
export const phase = async function (driver: Driver | Child, clients: Child, args: PhaseArgs): Promise<Scenario> {

    const drive = 'run' in driver ? driver : timerDriver(driver, args);
    const pids = [drive.server.process.pid, clients.process.pid];
    await machineQuiet(pids, 5000);
    const started = performance.now();
    const first = await measure(drive, clients, args);
    const cost = performance.now() - started;
    if (first.valid || (first.foreign_cpu ?? 0) <= FOREIGN_CPU_LIMIT || retrySpent + cost > RETRY_BUDGET_MS || !canAfford(cost / 1000 + 15)) {
        return first;
    }

    retrySpent += cost;
    log('  again: other processes were busy');
    await machineQuiet(pids, 10_000);
    const second = await measure(drive, clients, args);
    second.retried = true;
    return second.valid || (second.foreign_cpu ?? Infinity) < (first.foreign_cpu ?? Infinity) ? second : first;
};


export const connect = async function (clients: Child, args: { kind: string; port: number; signed?: string; total: number }): Promise<void> {

    const result = await clients.call<{ open: number; failed: number; firstError?: string; ms: number }>('connect', args);
    log(`  ${args.kind}: ${result.open}/${args.total} connected in ${(result.ms / 1000).toFixed(1)} s${result.failed ? ` (${result.failed} failed: ${result.firstError})` : ''}`);
};


/** Connects `n` harness clients to a socket.io server, runs `body`, closes them. */
export const withSio = async function (clients: Child, port: number, signed: string, n: number, body: () => Promise<void>): Promise<void> {

    await connect(clients, { kind: 'sio', port, signed, total: n });
    await sleep(500);
    await body();
    await clients.call('close', { kind: 'sio' });
};


const disturbed = function (step: Scenario): boolean {

    return (step.foreign_cpu ?? 0) > FOREIGN_CPU_LIMIT;
};


export const pastKnee = function (step: Pick<Scenario, 'p99_ms' | 'loop_lag_p99_ms' | 'delivered' | 'expected'>): boolean {

    return step.p99_ms === null || step.p99_ms > KNEE_P99_MS || (step.loop_lag_p99_ms ?? 0) > KNEE_LAG_MS || step.delivered < step.expected;
};


/** The rate steps at one N, up to the knee. */
export const steps = async function (server: Child, clients: Child, path: 'pipeline' | 'floor', label: string): Promise<Scenario[]> {

    const done: Scenario[] = [];
    let failed = 0;
    for (const rate of STEPS) {
        const count = Math.max(40, Math.round(rate * STEP_SECONDS));
        const step = await phase(server, clients, { kind: 'throughput', path, label, client: 'sio', n: THROUGHPUT_N, rate, count, warmup: 0 });
        done.push(step);
        if (!pastKnee(step)) {
            failed = 0;
            continue;
        }

        // A step that failed while other processes took the cores says nothing about the library:
        // the next rate is tried once more before stopping
        if (!disturbed(step) || ++failed >= 2 || !canAfford(2 * STEP_SECONDS + 20)) {
            break;
        }
    }

    return done;
};


export const knees = function (scenarios: Scenario[]) {

    const byPath = new Map<string, Scenario[]>();
    for (const step of scenarios.filter((scenario) => scenario.kind === 'throughput')) {
        byPath.set(step.path, [...byPath.get(step.path) ?? [], step]);
    }

    return [...byPath].map(([path, list]) => {

        const knee = list.find((step) => pastKnee(step) && !disturbed(step)) ?? list.find(pastKnee);
        const below = list.filter((step) => !pastKnee(step) && (!knee || step.rate < knee.rate));
        const sustained = below.filter((step) => step.valid).at(-1);
        const passed = below.at(-1);
        const reason = knee ? [
            knee.p99_ms === null || knee.p99_ms > KNEE_P99_MS ? `p99 ${knee.p99_ms === null ? '∞' : Math.round(knee.p99_ms)} ms` : null,
            (knee.loop_lag_p99_ms ?? 0) > KNEE_LAG_MS ? `loop lag p99 ${Math.round(knee.loop_lag_p99_ms!)} ms` : null,
            knee.delivered < knee.expected ? `${knee.expected - knee.delivered} deliveries lost` : null
        ].filter(Boolean).join(', ') : null;
        return {
            path,
            n: THROUGHPUT_N,
            /** The highest rate below the knee whose step was valid. */
            sustained_rate: sustained?.rate ?? null,
            sustained_deliveries_per_s: sustained ? round((sustained.achieved_rate ?? 0) * THROUGHPUT_N, 0) : null,
            /** The highest rate below the knee, valid or not (e.g. client-bound). */
            passed_rate: passed?.rate ?? null,
            knee_rate: knee?.rate ?? null,
            knee_reason: reason,
            knee_valid: knee?.valid ?? null,
            knee_invalid_reason: knee?.invalid_reason ?? null,
            all_valid: list.every((step) => step.valid)
        };
    });
};


/** Each scenario against the floor of its kind, N (and rate, for the steps): latency and CPU per delivery. */
export const withRatios = function (scenarios: Scenario[]): void {

    for (const scenario of scenarios) {
        // The raw ws path has its own clients; its ratio is to the socket.io floor of the harness clients
        const client = scenario.client === 'ws' ? 'sio' : scenario.client;
        const floor = scenarios.find((other) => other.path === 'floor' && other.kind === scenario.kind && other.n === scenario.n &&
            other.client === client && (scenario.kind !== 'throughput' || other.rate === scenario.rate));
        if (floor?.p50_ms && scenario.p50_ms !== null) {
            scenario.ratio_p50 = round(scenario.p50_ms / floor.p50_ms);
        }

        if (floor?.p99_ms && scenario.p99_ms !== null) {
            scenario.ratio_p99 = round(scenario.p99_ms / floor.p99_ms);
        }

        if (floor?.server_us_per_delivery && scenario.server_us_per_delivery !== null) {
            scenario.cpu_ratio = round(scenario.server_us_per_delivery / floor.server_us_per_delivery);
        }
    }
};
