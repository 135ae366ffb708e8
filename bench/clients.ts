import { serve } from './ipc.ts';
import { crumbOf, post } from './poster.ts';
import { sleep } from './stats.ts';
import { Recorder, type MarkerSet } from './recorder.ts';
import { openRawWs, openSocketIo, openSocketIoClient, type Conn } from './wire.ts';

// All load clients, in one process pinned to core 1 by bench/run.ts. Connections are opened in
// small concurrent batches (no connect avalanche, §5.1) and every one is subscribed before a
// recording starts. The real path's form submissions leave from here too (poster.ts). Three kinds
// of connection share one Recorder:
// - "sio": raw ws speaking Engine.IO v4 / Socket.IO v5 (the default harness client);
// - "ws": raw ws to the plain ws floor server;
// - "sioclient": the real socket.io-client, for the cross-check run.

type Kind = 'sio' | 'ws' | 'sioclient';

interface ConnectArgs {
    kind: Kind;
    port: number;
    signed?: string;
    /** How many connections of this kind should be open when done (tops up what is missing). */
    total: number;
    concurrency?: number;
    path?: string;
}

const recorder = new Recorder();
const pools: Record<Kind, Conn[]> = { sio: [], ws: [], sioclient: [] };


const open = function (args: ConnectArgs): Promise<Conn> {

    switch (args.kind) {
        case 'sio':
            return openSocketIo(args.port, args.signed!, recorder, args.path);
        case 'ws':
            return openRawWs(args.port, recorder);
        case 'sioclient':
            return openSocketIoClient(args.port, args.signed!, recorder);
    }
};


const connect = async function (args: ConnectArgs) {

    const started = performance.now();
    const pool = pools[args.kind] = pools[args.kind].filter((conn) => conn.open);
    const concurrency = args.concurrency ?? 100;
    let failed = 0;
    let firstError: string | undefined;
    // Bounded: a handful of retries for connections refused under a connect burst, then give up
    for (let attempt = 0; attempt < 3 && pool.length < args.total; ++attempt) {
        while (pool.length < args.total) {
            const batch = Math.min(concurrency, args.total - pool.length);
            const results = await Promise.allSettled(Array.from({ length: batch }, () => open(args)));
            let progressed = false;
            for (const result of results) {
                if (result.status === 'fulfilled') {
                    pool.push(result.value);
                    progressed = true;
                }
                else {
                    ++failed;
                    firstError ??= (result.reason as Error).message;
                }
            }

            if (!progressed) {
                break;
            }
        }

        if (pool.length < args.total) {
            await sleep(500);
        }
    }

    return { open: pool.length, failed, firstError, ms: performance.now() - started };
};


const close = async function (args: { kind: Kind }) {

    const pool = pools[args.kind];
    pools[args.kind] = [];
    for (let i = 0; i < pool.length; i += 500) {
        await Promise.all(pool.slice(i, i + 500).map((conn) => conn.close()));
    }

    return { closed: pool.length };
};


serve({
    connect,
    close,
    record: (args: { base: number; count: number; warmup: number; markers?: MarkerSet }) => {

        recorder.start(args.base, args.count, args.warmup, args.markers);
        return true;
    },
    progress: () => ({
        total: recorder.total,
        frames: recorder.frames,
        sinceLastFrameMs: recorder.lastFrameAt ? performance.timeOrigin + performance.now() - recorder.lastFrameAt : null,
        open: { sio: pools.sio.filter((conn) => conn.open).length, ws: pools.ws.filter((conn) => conn.open).length, sioclient: pools.sioclient.filter((conn) => conn.open).length }
    }),
    summary: (args: { n: number }) => recorder.summary(args.n),
    crumb: crumbOf,
    post,
    exit: async () => {

        await Promise.all((Object.keys(pools) as Kind[]).map((kind) => close({ kind })));
        setTimeout(() => process.exit(0), 50);
        return true;
    }
});
