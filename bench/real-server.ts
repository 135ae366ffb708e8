import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

import Hapi from '@hapi/hapi';
import Handlebars from 'handlebars';
import { Server as SocketIoServer } from 'socket.io';

import type { Sequelize } from 'sequelize';

import { openDatabase } from '../lib/chat/database.ts';
import { initModels, Message, Room } from '../lib/chat/models.ts';
import { createServer } from '../lib/chat/server.ts';
import { TurboStream } from '../lib/turbo/index.ts';
import { countQueries } from './app.ts';
import { serve } from './ipc.ts';
import { followQueries, followRequests, followTransport, Timeline } from './timeline.ts';

// The servers of the real path, one per process (bench/stages.ts realRun), pinned to core 0:
// - "chat": the chat exactly as `npm start` builds it (lib/chat/server.ts createServer with the
//   options lib/chat/main.ts passes, on a fresh sqlite file), listening on 127.0.0.1;
// - "floor": what that chat does at the least, written by hand: hapi parses the same form POST,
//   socket.io on the same listener emits the same markup (rendered once by the chat at start, with
//   holes for the id and the escaped text) to the room the clients subscribed to, and the reply is
//   the same 303. No plugin, no database, no CSRF check, no template;
// - "floor-db": the floor that also saves the message as the chat does, with the chat's models
//   (lib/chat/models.ts, no hooks) on a sqlite file in the same mode: the emit waits for the
//   INSERT and carries its id. Against it, the chat's overhead is what hapi-turbo and the chat's
//   own route add to an app that makes the same write.

const SECRET = 'hapi-turbo-bench-secret-of-at-least-32-bytes';
const ROOM_ID = 1;                                          // "Demo Room", seeded on the fresh file
const ROOM_STREAM = `chat:RoomStream[${ROOM_ID}]`;
const LAG_RESOLUTION_MS = 5;

interface Measured {
    cpu: NodeJS.CpuUsage;
    wall: number;
    lag: ReturnType<typeof monitorEventLoopDelay>;
    stats: Record<string, number>;
    queries: number;
    dbMs: number;
    from: bigint;
}

let stop: () => Promise<void> = async () => {};
let stats: () => Record<string, number> = () => ({});
const counters = { queries: 0, dbMs: 0 };
const timeline = new Timeline();
let measured: Measured | null = null;


// Queries counted and timed per message, and their points on the timeline
const followDatabase = function (sequelize: Sequelize): void {

    countQueries(sequelize, counters);
    followQueries(sequelize, timeline);
};


const startChat = async function () {

    const dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-bench-chat-'));
    const chat = await createServer({ databaseUrl: `sqlite:${join(dir, 'chat.sqlite')}`, port: 0, host: '127.0.0.1', secret: SECRET });
    chat.server.events.on('log', (event) => {

        console.error(`[chat: ${event.tags.join(', ')}] ${(event.data as { message?: string } | undefined)?.message ?? ''}`);
    });

    followDatabase(chat.sequelize);
    followRequests(chat.server, timeline);
    followTransport(chat.server.turbo.transport, timeline);

    await chat.server.start();
    stats = () => ({ ...chat.server.turbo.stats });
    stop = async () => {

        await chat.server.stop({ timeout: 1000 });
        await rm(dir, { recursive: true, force: true });
    };

    // What MessageStream.onSave sends for a new message, with holes for the floor to fill
    const message = chat.Message.build({ id: 0, roomId: ROOM_ID, text: 'BENCHTEXT', createdAt: new Date() });
    message.setDataValue('id', 'BENCHID' as never);
    const sample = await chat.server.turbo.render(
        TurboStream.append({ id: 'messages' }, { template: 'chat/components/message', context: { message } }),
        TurboStream.action('highlight', { id: 'message-BENCHID' })
    );
    return { port: chat.server.info.port, signed: chat.server.turbo.sign(ROOM_STREAM), sample };
};


// The floor-db's write: the chat's models on a fresh sqlite file in WAL mode, "Demo Room" seeded
const floorDatabase = async function () {

    const dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-bench-floor-'));
    const sequelize = await openDatabase(`sqlite:${join(dir, 'floor.sqlite')}`);
    initModels(sequelize);
    await sequelize.sync();
    await Room.create({ name: 'Demo Room' });
    followDatabase(sequelize);
    return {
        insert: async (text: string) => (await Message.create({ roomId: ROOM_ID, text })).id,
        close: async () => {

            await sequelize.close();
            await rm(dir, { recursive: true, force: true });
        }
    };
};


const startFloor = async function (sample: string, withDatabase: boolean) {

    const database = withDatabase ? await floorDatabase() : null;
    const parts = sample.split(/(BENCHID|BENCHTEXT)/);
    const server = Hapi.server({ port: 0, host: '127.0.0.1' });
    const io = new SocketIoServer(server.listener, { serveClient: false });
    const namespace = io.of('/turbo');
    namespace.on('connection', (socket) => {

        socket.on('subscribe', (payload: { signedStreamName: string }, ack: (answer: object) => void) => {

            void socket.join(payload.signedStreamName);
            ack({ ok: true, stream: ROOM_STREAM, epoch: 'floor', seq: 0 });
        });
    });

    let id = 0;
    let seq = 0;
    const signed = 'floor-room';
    server.route({
        method: 'POST',
        path: '/{roomId}/message_create',
        handler: async (request, h) => {

            const raw = String((request.payload as { text?: unknown } | null)?.text ?? '');
            id = database ? await database.insert(raw.trim()) : id + 1;
            const text = Handlebars.Utils.escapeExpression(raw);      // The chat's escaping, byte for byte
            let html = '';
            for (const part of parts) {
                html += part === 'BENCHID' ? id : part === 'BENCHTEXT' ? text : part;
            }

            timeline.mark('publish');
            namespace.to(signed).emit('turbo-stream', html, { stream: ROOM_STREAM, epoch: 'floor', seq: ++seq });
            timeline.mark('emitted');
            return h.redirect(`/${request.params.roomId}/message_create`).code(303);
        }
    });

    followRequests(server, timeline);
    await server.start();
    stop = async () => {

        io.disconnectSockets(true);
        await server.stop({ timeout: 1000 });
        await database?.close();
    };

    return { port: server.info.port, signed, sample };
};


serve({
    start: (args: { app: 'chat' | 'floor' | 'floor-db'; sample?: string }) => args.app === 'chat' ? startChat() : startFloor(args.sample!, args.app === 'floor-db'),
    begin: () => {

        const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
        lag.enable();
        timeline.begin();
        measured = { cpu: process.cpuUsage(), wall: performance.now(), lag, stats: stats(), queries: counters.queries, dbMs: counters.dbMs, from: process.hrtime.bigint() };
        return true;
    },
    end: (args: { count: number; warmup: number }) => {

        const at = measured!;
        const cpu = process.cpuUsage(at.cpu);
        const wall = performance.now() - at.wall;
        at.lag.disable();
        const now = stats();
        const per = (key: string) => ((now[key] ?? 0) - (at.stats[key] ?? 0)) / args.count;
        return {
            window: { from: Number(at.from / 1000n), to: Number(process.hrtime.bigint() / 1000n) },
            server_cpu: (cpu.user + cpu.system) / 1000 / wall * 100,
            server_cpu_sys: cpu.system / 1000 / wall * 100,
            server_cpu_ms: (cpu.user + cpu.system) / 1000,
            loop_lag_p99_ms: Math.max(0, at.lag.percentile(99) / 1e6 - LAG_RESOLUTION_MS),
            loop_lag_max_ms: Math.max(0, at.lag.max / 1e6 - LAG_RESOLUTION_MS),
            renders_per_broadcast: per('renders'),
            templates_per_broadcast: per('templates'),
            frames_per_broadcast: 'frames' in now ? per('frames') : 1,
            queries_per_broadcast: (counters.queries - at.queries) / args.count,
            db_ms_per_broadcast: (counters.dbMs - at.dbMs) / args.count,
            hook_p50_ms: null,
            publish_p50_ms: null,
            publish_p99_ms: null,
            emit_p50_ms: null,
            emit_p99_ms: null,
            real_split: timeline.end(args.warmup)
        };
    },
    exit: async () => {

        await stop();
        setTimeout(() => process.exit(0), 50);
        return true;
    }
});
