import { createServer, type Server as HttpServer } from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

import { Server as SocketIoServer } from 'socket.io';
import { WebSocketServer } from 'ws';

import { createBenchApp, type BenchApp, type Batch } from './app.ts';
import { serve } from './ipc.ts';
import { schedule } from './schedule.ts';
import { now, percentile, sleep } from './stats.ts';

// The system under test, pinned to core 0 by bench/run.ts. One process holds:
// - the hapi app with the plugin (path "pipeline": Message.create → hook → render → fan-out);
// - the socket.io floor (path "floor"): io.of('/turbo').to(room).emit of pre-rendered markup on
//   the plugin's own socket.io server, namespace and room, so the same sockets receive it;
// - a raw ws server (path "ws"): a send loop of the same bytes minus socket.io's framing;
// - optionally a bare socket.io server (its own port), for the idle-memory baseline.
// Load is generated in-process by a timer, so no HTTP publish cost enters the numbers (§5.1).

type Path = 'pipeline' | 'floor' | 'ws';

interface RunArgs {
    path: Path;
    rate: number;
    count: number;
    base: number;
    /**
     * What t0 is. "send": the moment the broadcast starts (just before Message.create or the emit).
     * "schedule": the moment it was due; under overload the sender falls behind, and measuring from
     * the actual send would leave that queueing out of the latency (coordinated omission).
     */
    clock: 'send' | 'schedule';
}

let app: BenchApp | undefined;
let batch: { requested: Batch | undefined; supported: boolean } = { requested: undefined, supported: true };
let wss: WebSocketServer | undefined;
let bare: { http: HttpServer; io: SocketIoServer } | undefined;
let format: (b: number, t0: number) => string = () => '';

// Filled by the instrumentation below and read per run
let splits = { hook: [] as number[], publish: [] as number[], emit: [] as number[] };
const T0 = /data-t0="([\d.]+)"/g;
// monitorEventLoopDelay records whole timer intervals: an idle loop reads as its resolution
const LAG_RESOLUTION_MS = 5;


const instrumentTransport = function (target: BenchApp): void {

    // Bench-only: wraps the transport's publish to time the synchronous fan-out of each frame and
    // when each message reached it. Works with publish(record) and publish(records[]). A library
    // hook (an observer called around publish) would make this unnecessary; see docs/performance.md.
    const transport = target.server.turbo.transport as unknown as { publish: (arg: unknown) => void };
    const publish = transport.publish.bind(transport);
    transport.publish = (arg: unknown) => {

        const start = now();
        for (const record of [arg].flat() as { html: string }[]) {
            for (const match of record.html.matchAll(T0)) {
                splits.publish.push(start - Number(match[1]));
            }
        }

        publish(arg);
        splits.emit.push(now() - start);
    };
};


const start = async function (args: { batch?: Batch }) {

    try {
        app = await createBenchApp({ batch: args.batch, onSave: (message) => splits.hook.push(now() - message.t0) });
        batch = { requested: args.batch, supported: true };
    }
    catch (error) {
        // A library without the option refuses it at validation, before touching anything
        if (args.batch === undefined || !/"batch" is not allowed/.test((error as Error).message)) {
            throw error;
        }

        app = await createBenchApp({ onSave: (message) => splits.hook.push(now() - message.t0) });
        batch = { requested: args.batch, supported: false };
    }

    instrumentTransport(app);
    format = await app.prerendered();
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise((resolve) => wss!.once('listening', resolve));
    return {
        port: app.server.info.port,
        wsPort: (wss.address() as { port: number }).port,
        signed: app.signed,
        stream: app.streamName,
        batch,
        sample: format(0, now()),
        versions: { node: process.version }
    };
};


const run = async function (args: RunArgs) {

    const target = app!;
    const turbo = target.server.turbo;
    const room = target.streamName;
    const namespace = turbo.io!.of('/turbo');
    let floorSeq = 0;
    let wsSeq = 0;
    let errors = 0;
    const pending = new Set<Promise<unknown>>();
    splits = { hook: [], publish: [], emit: [] };

    const send: Record<Path, (id: number, due: number) => void> = {
        pipeline: (id, due) => {

            // With the "send" clock, save() stamps t0 itself, just before Message.create
            const saving = target.save(id, args.clock === 'schedule' ? due : undefined).catch(() => ++errors);
            pending.add(saving);
            void saving.then(() => pending.delete(saving));
        },
        floor: (id, due) => {

            const start = now();
            namespace.to(room).emit('turbo-stream', format(id, args.clock === 'schedule' ? due : start), { stream: room, epoch: 'floor', seq: ++floorSeq });
            splits.emit.push(now() - start);
        },
        ws: (id, due) => {

            const start = now();
            const frame = JSON.stringify(['turbo-stream', format(id, args.clock === 'schedule' ? due : start), { stream: room, epoch: 'ws', seq: ++wsSeq }]);
            for (const client of wss!.clients) {
                client.send(frame);
            }

            splits.emit.push(now() - start);
        }
    };

    const fire = (k: number, due: number) => send[args.path](args.base + k, due);

    const stats0 = { ...turbo.stats };
    const queries0 = target.counters.queries;
    const dbMs0 = target.counters.dbMs;
    const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    lag.enable();
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    const hr0 = process.hrtime.bigint();

    const { lateMs, spanMs } = await schedule(args.rate, args.count, fire);
    await Promise.all(pending);
    await turbo.drain();

    const wall = performance.now() - wall0;
    const hr1 = process.hrtime.bigint();
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    lag.disable();
    const stats = turbo.stats as unknown as Record<string, number>;
    const delta = (key: string) => (stats[key] ?? 0) - ((stats0 as unknown as Record<string, number>)[key] ?? 0);
    const per = (value: number) => value / args.count;

    return {
        sent: args.count,
        errors,
        // The run's span on the monotonic clock, in µs: what a CPU profile is cut to
        window: { from: Number(hr0 / 1000n), to: Number(hr1 / 1000n) },
        wall_ms: wall,
        achieved_rate: args.count > 1 ? (args.count - 1) / spanMs * 1000 : args.rate,
        schedule_late_p99_ms: percentile(lateMs, 99),
        server_cpu: (cpu.user + cpu.system) / 1000 / wall * 100,
        server_cpu_ms: (cpu.user + cpu.system) / 1000,
        server_cpu_sys: cpu.system / 1000 / wall * 100,
        elu: elu.utilization,
        loop_lag_p99_ms: Math.max(0, lag.percentile(99) / 1e6 - LAG_RESOLUTION_MS),
        loop_lag_max_ms: Math.max(0, lag.max / 1e6 - LAG_RESOLUTION_MS),
        queries_per_broadcast: args.path === 'pipeline' ? per(target.counters.queries - queries0) : 0,
        db_ms_per_broadcast: args.path === 'pipeline' ? per(target.counters.dbMs - dbMs0) : 0,
        renders_per_broadcast: per(delta('renders')),
        templates_per_broadcast: per(delta('templates')),
        frames_per_broadcast: args.path === 'pipeline' ? ('frames' in stats ? per(delta('frames')) : 1) : 1,
        library_broadcasts: delta('broadcasts'),
        library_errors: delta('errors'),
        hook_p50_ms: percentile(splits.hook, 50),
        publish_p50_ms: percentile(splits.publish, 50),
        publish_p99_ms: percentile(splits.publish, 99),
        emit_p50_ms: percentile(splits.emit, 50),
        emit_p99_ms: percentile(splits.emit, 99)
    };
};


// The idle-memory baseline: socket.io alone, sockets joined to a room by a plain handler
const startBare = async function () {

    const http = createServer();
    const io = new SocketIoServer(http, { serveClient: false });
    io.of('/turbo').on('connection', (socket) => {

        socket.on('subscribe', (payload: { signedStreamName: string }, ack: (answer: object) => void) => {

            void socket.join(payload.signedStreamName);
            ack({ ok: true });
        });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    bare = { http, io };
    return { port: (http.address() as { port: number }).port };
};


const memory = async function () {

    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) {
        throw new Error('run the server with --expose-gc');
    }

    // Twice, with a turn between, so objects freed by the first pass's finalizers go as well
    gc();
    await sleep(50);
    gc();
    const usage = process.memoryUsage();
    return { heapUsed: usage.heapUsed, rss: usage.rss, external: usage.external, arrayBuffers: usage.arrayBuffers };
};


const status = function () {

    return {
        socketIo: app?.server.turbo.io?.engine.clientsCount ?? 0,
        ws: wss?.clients.size ?? 0,
        bare: bare?.io.engine.clientsCount ?? 0
    };
};


const stop = async function () {

    for (const client of wss?.clients ?? []) {
        client.terminate();
    }

    await new Promise((resolve) => wss ? wss.close(resolve) : resolve(undefined));
    if (bare) {
        bare.io.disconnectSockets(true);
        await new Promise((resolve) => bare!.io.close(resolve));
    }

    await app?.close();
    app = undefined;
};


serve({
    start,
    run,
    bare: startBare,
    memory,
    status,
    exit: async () => {

        await stop();
        // Leave after the reply is out; exiting normally also writes --cpu-prof's profile
        setTimeout(() => process.exit(0), 50);
        return true;
    }
});
