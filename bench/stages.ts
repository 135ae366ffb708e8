import { log, spawnChild, stopChild, type Child } from './children.ts';
import { LATENCY, MEMORY_N, REAL, runs, STEPS, STEP_SECONDS, THROUGHPUT_N } from './config.ts';
import { connect, measure, phase, stageDone, steps, withSio, type Driver } from './measure.ts';
import { round, sleep } from './stats.ts';
import type { Batch } from './app.ts';
import type { Scenario, ServerRun, Started } from './types.ts';

// The parts of a full run, each with the server processes it needs: the save path at each N (and
// its throughput steps), the pipeline with other `batch` options, the chat through HTTP beside its
// floor, and idle memory.


/** The save path: pipeline, socket.io floor and raw ws floor at each N; the steps at N=1000. */
export const mainRun = async function (clients: Child, scenarios: Scenario[]): Promise<Started> {

    const server = spawnChild('server.ts', 0, ['--expose-gc']);
    const info = await server.call<Started>('start', {});
    log(`server up: socket.io :${info.port}, raw ws :${info.wsPort}; payload ${info.sample.length} B of markup; stream ${info.stream}`);

    for (const { n, rate, count, warmup } of LATENCY) {
        const latency = runs('latency');
        const throughput = runs('throughput') && n === THROUGHPUT_N;
        if (!latency && !throughput) {
            continue;
        }

        log(`N=${n}`);
        await withSio(clients, info.port, info.signed, n, async () => {

            if (latency) {
                scenarios.push(await phase(server, clients, { kind: 'latency', path: 'pipeline', label: 'pipeline', client: 'sio', n, rate, count, warmup }));
                scenarios.push(await phase(server, clients, { kind: 'latency', path: 'floor', label: 'floor', client: 'sio', n, rate, count, warmup }));
            }

            if (throughput) {
                log(`throughput steps at N=${n}: ${STEPS.join(', ')} broadcasts/s, ${STEP_SECONDS} s each, until the knee`);
                scenarios.push(...await steps(server, clients, 'pipeline', 'pipeline'));
                scenarios.push(...await steps(server, clients, 'floor', 'floor'));
            }
        });

        if (latency) {
            await connect(clients, { kind: 'ws', port: info.wsPort, total: n });
            await sleep(500);
            scenarios.push(await phase(server, clients, { kind: 'latency', path: 'ws', label: 'ws', client: 'ws', n, rate, count, warmup }));
            await clients.call('close', { kind: 'ws' });
        }

        if (latency && n === 100) {
            // The cross-check: the real socket.io-client, same server, same paths
            await connect(clients, { kind: 'sioclient', port: info.port, signed: info.signed, total: n });
            await sleep(500);
            scenarios.push(await phase(server, clients, { kind: 'crosscheck', path: 'pipeline', label: 'pipeline', client: 'sioclient', n, rate, count, warmup }));
            scenarios.push(await phase(server, clients, { kind: 'crosscheck', path: 'floor', label: 'floor', client: 'sioclient', n, rate, count, warmup }));
            await clients.call('close', { kind: 'sioclient' });
        }

        stageDone(`n=${n}`);
    }

    await stopChild(server);
    return info;
};


// The pipeline again with another `batch` option, in its own server process: `false` is the naive
// one-emit-per-broadcast fan-out; a window lets saves that finish in different loop turns share a frame
export const variantRun = async function (clients: Child, scenarios: Scenario[], batch: Batch, label: string): Promise<boolean> {

    const server = spawnChild('server.ts', 0, ['--expose-gc']);
    const info = await server.call<Started>('start', { batch });
    log(`server with batch: ${JSON.stringify(batch)} (${info.batch.supported ? 'supported' : 'NOT supported by this library'})`);
    if (info.batch.supported || batch === false) {
        await withSio(clients, info.port, info.signed, THROUGHPUT_N, async () => {

            // A fresh process: warm the JIT and the DB up before the first step counts
            await measure({ server, run: (base) => server.call<ServerRun>('run', { path: 'pipeline', rate: 20, count: 40, base, clock: 'schedule' }) },
                clients, { kind: 'throughput', path: 'pipeline', label: 'warm-up', client: 'sio', n: THROUGHPUT_N, rate: 20, count: 40, warmup: 40 });
            scenarios.push(...await steps(server, clients, 'pipeline', label));
        });
    }

    await stopChild(server);
    return info.batch.supported;
};


interface RealStarted {
    port: number;
    signed: string;
    sample: string;
}


/** A phase of the real path: the clients process submits the send form `count` times at `rate`. */
const formDriver = function (server: Child, clients: Child, port: number, crumb: string | null, rate: number, count: number, warmup: number): Driver {

    return {
        server,
        markers: 'chat',
        run: async (base) => {

            await server.call('begin');
            const posted = await clients.call<{ errors: number; statuses: Record<string, number>; achieved_rate: number; late_p99_ms: number | null }>('post', { port, path: '/1/message_create', crumb, rate, count, base });
            if (posted.errors) {
                log(`  form submissions: ${JSON.stringify(posted.statuses)}`);
            }

            return { errors: posted.errors, achieved_rate: posted.achieved_rate, schedule_late_p99_ms: posted.late_p99_ms } as ServerRun;
        },
        after: () => server.call<ServerRun>('end', { count, warmup })
    };
};


/**
 * The chat as `npm start` runs it (lib/chat/server.ts, its sqlite file, crumb, form parsing, the
 * redirect), timed from the HTTP POST of the send form to the first and last window, beside a
 * hand-written hapi + socket.io server that emits the same markup on the same POST, and the same
 * with the chat's INSERT before the emit: the same clients, one after the other at each N. Each
 * server has a process of its own on core 0.
 */
export const realRun = async function (clients: Child, scenarios: Scenario[]): Promise<void> {

    const chat = spawnChild('real-server.ts', 0);
    const floor = spawnChild('real-server.ts', 0);
    const floorDb = spawnChild('real-server.ts', 0);
    try {
        const chatInfo = await chat.call<RealStarted>('start', { app: 'chat' });
        const floorInfo = await floor.call<RealStarted>('start', { app: 'floor', sample: chatInfo.sample });
        const floorDbInfo = await floorDb.call<RealStarted>('start', { app: 'floor-db', sample: chatInfo.sample });
        const crumb = await clients.call<string | null>('crumb', { port: chatInfo.port });
        log(`chat up on :${chatInfo.port} (crumb ${crumb ? 'received' : 'MISSING'}), its floors on :${floorInfo.port} and :${floorDbInfo.port} (with the INSERT)`);
        for (const { n, rate, count, warmup } of REAL) {
            for (const [label, server, info] of [['chat', chat, chatInfo], ['floor', floor, floorInfo], ['floor-db', floorDb, floorDbInfo]] as const) {
                await withSio(clients, info.port, info.signed, n, async () => {

                    const driver = formDriver(server, clients, info.port, crumb, rate, count, warmup);
                    scenarios.push(await phase(driver, clients, { kind: 'real', path: 'pipeline', label, client: 'sio', n, rate, count, warmup }));
                });
            }
        }
    }
    finally {
        await Promise.all([stopChild(chat), stopChild(floor), stopChild(floorDb)]);
    }
};


interface MemoryPoint {
    n: number;
    heapUsed: number;
    rss: number;
    external: number;
}


// Idle memory after gc() in a fresh server process per variant, so one variant's high-water RSS
// does not hide the other's growth (§5.4c)
export const memoryRun = async function (clients: Child, variant: 'library' | 'bare') {

    const server = spawnChild('server.ts', 0, ['--expose-gc']);
    const info = await server.call<Started>('start', {});
    const port = variant === 'bare' ? (await server.call<{ port: number }>('bare')).port : info.port;
    const points: MemoryPoint[] = [{ ...await server.call<MemoryPoint>('memory'), n: 0 }];
    for (const n of MEMORY_N) {
        await connect(clients, { kind: 'sio', port, signed: info.signed, total: n });
        await sleep(2000);
        points.push({ ...await server.call<MemoryPoint>('memory'), n });
    }

    await clients.call('close', { kind: 'sio' });
    await stopChild(server);
    const [low, high] = [points[1]!, points[2]!];
    const slope = (key: 'heapUsed' | 'rss') => round((high[key] - low[key]) / (high.n - low.n) / 1024, 2);
    const result = { variant, points, heap_kb_per_subscriber: slope('heapUsed'), rss_kb_per_subscriber: slope('rss') };
    log(`memory ${variant}: heap ${result.heap_kb_per_subscriber} KB, RSS ${result.rss_kb_per_subscriber} KB per subscriber (slope ${low.n}→${high.n})`);
    return result;
};
