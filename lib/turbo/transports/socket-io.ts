import type { IncomingMessage, Server as HttpServer } from 'node:http';

import { Server, type Namespace, type ServerOptions, type Socket } from 'socket.io';

import type { BroadcastRecord, Transport } from '../broadcaster.ts';
import type { Session, Subscriber, SubscribeLimits, SubscriptionProtocol } from '../subscriptions.ts';

const NAMESPACE = '/turbo';

export interface SocketLimits extends SubscribeLimits {
    /** Largest frame a client may send; subscribe frames are tiny. */
    maxFrameBytes: number;
    /**
     * Output a socket may have waiting (it stopped reading) before it is disconnected; also the most
     * replay a socket is sent in one burst.
     */
    maxBufferedBytes: number;
    /** Output waiting across all sockets of the process; beyond it the slowest readers are cut off first. */
    maxTotalBufferedBytes: number;
    /** Replay a socket may pull per second once its burst (maxBufferedBytes) is spent; beyond it the answer is `gap`. */
    replayBytesPerSecond: number;
}

export interface SocketIoTransportOptions {
    listener: HttpServer;
    path: string;
    /** Decides subscribe and unsubscribe frames; the transport carries them and joins the rooms. */
    protocol: SubscriptionProtocol;
    /** The server's log, made not to throw by the runtime: frames are answered even when its listeners fail. */
    log: (tags: string[], data: object) => void;
    /** A socket.io adapter factory (the Redis Streams adapter when several processes share the work). */
    adapter?: ServerOptions['adapter'];
    /** Origins allowed to open a socket: '*', a list, or undefined for the server's own origin only. */
    origins?: '*' | readonly string[];
    limits: SocketLimits;
}

type Ack = (answer: object) => void;

interface SocketState {
    session: Session;
    /** Bytes of replay this socket may still be sent: a bucket of maxBufferedBytes, refilled at replayBytesPerSecond. */
    replayBytes: number;
    replayRefilledAt: number;
}

const SWEEP_MS = 200;
// What a frame costs beyond its markup (JSON quoting, the stream's meta), counted per message
const FRAME_OVERHEAD = 16;


/** The bytes a frame of `records` puts in a socket's output, as the memory budgets count them. */
const frameBytes = function (records: readonly BroadcastRecord[]): number {

    let bytes = 0;
    for (const record of records) {
        bytes += record.html.length + FRAME_OVERHEAD;
    }

    return bytes;
};


// socket.io passes the ack callback as the last argument, if the client asked for one
const splitAck = function (args: unknown[]): [unknown, Ack | undefined] {

    const last = args[args.length - 1];
    return typeof last === 'function' ? [args[0], last as Ack] : [args[0], undefined];
};


/**
 * The arguments of a `turbo-stream` event. One message: `(html, { stream, epoch, seq })`. Several
 * consecutive messages of a stream: `(html[], { stream, epoch, seq, count })`, where `seq` is the
 * last one's and the array holds each message's markup in order, so a client that has seen some of
 * them applies only the rest. For `socketId`, the messages that skip it (toOthers) are empty
 * placeholders: its seqs stay gap-free.
 */
const frameOf = function (records: readonly BroadcastRecord[], socketId?: string): [string | string[], object] {

    const last = records[records.length - 1]!;
    const meta = { stream: last.stream, epoch: last.epoch, seq: last.seq };
    const htmlOf = (record: BroadcastRecord) => socketId !== undefined && record.except === socketId ? '' : record.html;
    return records.length === 1 ? [htmlOf(last), meta] : [records.map(htmlOf), { ...meta, count: records.length }];
};


/**
 * The origin the request was made to: its Host header, and https when the connection is TLS or the
 * proxy in front says it was (X-Forwarded-Proto: a page cannot set that header on a handshake).
 */
const ownOrigin = function (request: IncomingMessage): string | null {

    const forwarded = request.headers['x-forwarded-proto'];
    const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
    const scheme = proto === 'https' || proto === 'http' ? proto : (request.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    try {
        return new URL(`${scheme}://${request.headers.host}`).origin;
    }
    catch {
        return null;
    }
};


/**
 * Browsers always send Origin on WebSocket handshakes, and CORS settings do not stop a page on
 * another site from opening one with the user's cookies (cross-site WebSocket hijacking). Requests
 * without an Origin come from non-browser clients, which can forge any header anyway. An origin is
 * scheme, host and port: https://example.com is not http://example.com.
 */
const originAllowed = function (request: IncomingMessage, origins: SocketIoTransportOptions['origins']): boolean {

    const origin = request.headers.origin;
    if (origin === undefined || origins === '*') {
        return true;
    }

    if (origins) {
        return origins.includes(origin);
    }

    try {
        const own = ownOrigin(request);
        return own !== null && new URL(origin).origin === own;
    }
    catch {
        return false;
    }
};


/**
 * Rooms on socket.io's `/turbo` namespace, one per stream, on hapi's own listener. Clients emit
 * `subscribe` / `unsubscribe` with `{ signedStreamName, since? }` and an ack; broadcasts arrive as
 * `turbo-stream` events with `(html, { stream, epoch, seq })`. See docs/protocol.md.
 */
export class SocketIoTransport implements Transport {

    readonly kind = 'socket.io';
    readonly io: Server;
    readonly namespace: Namespace;
    /** Sockets disconnected because their output backed up (their own, or all sockets' together). */
    slowDisconnects = 0;
    /** Replays not sent because they did not fit a socket's budget or the total: answered `gap`. */
    replaysRefused = 0;

    readonly #options: SocketIoTransportOptions;
    #sweeper: NodeJS.Timeout | undefined;
    // Output waiting in this process across all sockets, as of the last sweep plus what was queued since
    #queuedTotal = 0;

    constructor(options: SocketIoTransportOptions) {

        this.#options = options;
        this.io = new Server(options.listener, {
            path: options.path,
            serveClient: false,                             // The plugin serves the ESM client with its assets
            maxHttpBufferSize: options.limits.maxFrameBytes,
            ...(options.adapter ? { adapter: options.adapter } : {}),
            allowRequest: (request, callback) => callback(null, originAllowed(request, options.origins))
        });

        // Only /turbo speaks the protocol; refuse the default namespace rather than keep idle sockets
        this.io.of('/').use((_socket, next) => next(new Error('hapi-turbo listens on the /turbo namespace')));

        this.namespace = this.io.of(NAMESPACE);
        this.namespace.use(async (socket, next) => {

            const session = await options.protocol.open(socket.handshake.headers);
            const state: SocketState = { session, replayBytes: options.limits.maxBufferedBytes, replayRefilledAt: Date.now() };
            socket.data = state;
            next();
        });

        this.namespace.on('connection', (socket) => this.#connected(socket));
        // Once per connection (a client may join the namespace many times over one): what it had
        // waiting leaves the total with it
        this.io.engine.on('connection', (conn: EngineSocket) => {

            conn.once('close', () => {

                this.#queuedTotal = Math.max(0, this.#queuedTotal - (conn.hapiTurboQueued ?? 0));
                conn.hapiTurboQueued = 0;
            });
        });
        this.start();
    }

    start(): void {

        this.#sweeper ??= setInterval(() => this.#disconnectSlowClients(), SWEEP_MS).unref();
    }

    #connected(socket: Socket): void {

        const { protocol } = this.#options;
        const { session } = socket.data as SocketState;
        const subscriber = this.#subscriber(socket);
        this.#handle(socket, 'subscribe', (payload, ack) => protocol.subscribe(session, subscriber, payload, ack));
        this.#handle(socket, 'unsubscribe', (payload, ack) => protocol.unsubscribe(session, subscriber, payload, ack));
    }

    #subscriber(socket: Socket): Subscriber {

        return {
            id: socket.id,
            get connected() {

                return socket.connected;
            },
            join: (stream) => socket.join(stream),
            leave: (stream) => socket.leave(stream),
            send: (records) => socket.emit('turbo-stream', ...frameOf(records, socket.id)),
            fits: (records) => {

                if (this.#replayFits(socket, records)) {
                    return true;
                }

                ++this.replaysRefused;
                this.#options.log(['hapi-turbo', 'replay', 'debug'], { message: `replay of ${records.length} messages over budget, answered gap: ${records[0]!.stream}`, socket: socket.id, stream: records[0]!.stream, messages: records.length });
                return false;
            }
        };
    }

    // The one safety net around client frames: whatever a frame makes a handler throw or reject with
    // is logged and answered; the socket and the process stay up. A frame is answered at most once.
    #handle(socket: Socket, event: string, handler: (payload: unknown, ack: Ack | undefined) => void | Promise<void>): void {

        socket.on(event, (...args: unknown[]) => {

            const [payload, given] = splitAck(args);
            let answered = false;
            const ack = given && ((answer: object) => {

                if (!answered) {
                    answered = true;
                    given(answer);
                }
            });

            const fail = (error: unknown) => {

                this.#options.log(['hapi-turbo', 'error'], { event, socket: socket.id, message: (error as Error | null)?.message ?? String(error), error });
                try {
                    ack?.({ ok: false, error: 'server-error' });
                }
                catch {
                    // Nothing more can be said to this socket
                }
            };

            try {
                const result = handler(payload, ack);
                if (result instanceof Promise) {
                    result.catch(fail);
                }
            }
            catch (error) {
                fail(error);
            }
        });
    }

    /**
     * Whether a replay may be queued for the socket, counting it against the socket's replay budget,
     * its own output waiting and everyone's. Checked when the replay is queued, before it is encoded:
     * the sweep alone would see it only after it took the memory.
     */
    #replayFits(socket: Socket, records: readonly BroadcastRecord[]): boolean {

        const state = socket.data as SocketState;
        const { maxBufferedBytes, maxTotalBufferedBytes, replayBytesPerSecond } = this.#options.limits;
        const bytes = frameBytes(records);
        const now = Date.now();
        state.replayBytes = Math.min(maxBufferedBytes, state.replayBytes + (now - state.replayRefilledAt) * replayBytesPerSecond / 1000);
        state.replayRefilledAt = now;

        const conn = socket.conn as unknown as EngineSocket;
        const queued = queuedBytes(conn);
        this.#queuedTotal = Math.max(0, this.#queuedTotal + queued - (conn.hapiTurboQueued ?? 0));
        conn.hapiTurboQueued = queued;
        if (bytes > state.replayBytes || queued + bytes > maxBufferedBytes || this.#queuedTotal + bytes > maxTotalBufferedBytes) {
            return false;
        }

        state.replayBytes -= bytes;
        conn.hapiTurboQueued += bytes;
        this.#queuedTotal += bytes;
        return true;
    }

    publish(records: readonly BroadcastRecord[]): void {

        this.#published(records);
        const room = this.namespace.to(records[0]!.stream);
        const skipped = [...new Set(records.flatMap((record) => record.except ? [record.except] : []))];
        if (!skipped.length) {
            room.emit('turbo-stream', ...frameOf(records));
            return;
        }

        // The skipped socket gets the same frame with its messages emptied. It is sent to the
        // socket's own room, which reaches it on whichever process holds it; the broadcaster makes
        // such a message a frame of its own, so a socket not on the stream learns nothing but its
        // name, and its client ignores streams it does not hold.
        room.except(skipped).emit('turbo-stream', ...frameOf(records));
        for (const socketId of skipped) {
            this.namespace.to(socketId).emit('turbo-stream', ...frameOf(records, socketId));
        }
    }

    // What a broadcast may queue here: its size for every local socket in the room. Counted as it is
    // queued, so a flood to many sockets that stopped reading is looked at now, not at the next sweep.
    #published(records: readonly BroadcastRecord[]): void {

        const members = this.namespace.adapter.rooms.get(records[0]!.stream)?.size ?? 0;
        if (!members) {
            return;
        }

        this.#queuedTotal += members * frameBytes(records);
        if (this.#queuedTotal > this.#options.limits.maxTotalBufferedBytes) {
            this.#disconnectSlowClients();
        }
    }

    // A client that stops reading leaves its messages queued in this process: first in the kernel,
    // then in ws, then in engine.io's write buffer. Past its own limit it is cut off; past the total
    // of all sockets, the sockets with the most waiting go first until the rest fits. When a client
    // comes back it resumes from its position or refreshes.
    #disconnectSlowClients(): void {

        try {
            this.#sweep();
        }
        catch (error) {
            this.#options.log(['hapi-turbo', 'error'], { message: (error as Error).message, error });
        }
    }

    #sweep(): void {

        const { maxBufferedBytes: limit, maxTotalBufferedBytes: totalLimit } = this.#options.limits;
        const clients = (this.io.engine as unknown as { clients: Record<string, EngineSocket> }).clients;
        const backlog: EngineSocket[] = [];
        let total = 0;
        for (const conn of Object.values(clients)) {
            const queued = queuedBytes(conn);
            conn.hapiTurboQueued = queued;
            // Over the limit on two sweeps in a row: a reader that is merely behind after a burst
            // drains within one sweep and is left alone
            if (queued <= limit) {
                conn.hapiTurboOverLimit = false;
            }
            else if (!conn.hapiTurboOverLimit) {
                conn.hapiTurboOverLimit = true;
            }
            else {
                this.#cutOff(conn, queued, limit);
                continue;
            }

            total += queued;
            if (queued > 0) {
                backlog.push(conn);
            }
        }

        if (total > totalLimit) {
            backlog.sort((a, b) => b.hapiTurboQueued! - a.hapiTurboQueued!);
            for (const conn of backlog) {
                if (total <= totalLimit) {
                    break;
                }

                total -= conn.hapiTurboQueued!;
                this.#cutOff(conn, conn.hapiTurboQueued!, limit, total + conn.hapiTurboQueued!);
            }
        }

        this.#queuedTotal = total;
    }

    #cutOff(conn: EngineSocket, queued: number, limit: number, total?: number): void {

        ++this.slowDisconnects;
        this.#options.log(['hapi-turbo', 'slow-client'], { id: conn.id, queued, limit, ...(total === undefined ? {} : { total, totalLimit: this.#options.limits.maxTotalBufferedBytes }) });
        conn.hapiTurboQueued = 0;
        conn.transport?.socket?.terminate?.();
        conn.close(true);
    }

    // Closes every connection without a socket.io "disconnect" packet, so clients see the transport
    // drop and reconnect by themselves (to this server once it starts again, or to another one).
    // io.close() is not used: it would also close hapi's listener, which hapi closes itself.
    stop(): Promise<void> {

        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
        this.io.engine.close();
        return Promise.resolve();
    }
}


// The parts of engine.io's socket the sweep reads; engine.io does not export these types
interface EngineSocket {
    id: string;
    hapiTurboOverLimit?: boolean;
    /** Output waiting when last measured, in bytes. */
    hapiTurboQueued?: number;
    writeBuffer: { data?: unknown }[];
    transport?: { socket?: { bufferedAmount?: number; terminate?: () => void } };
    close(discard?: boolean): void;
    once(event: 'close', listener: () => void): void;
}


/** Output waiting for a connection in this process: in ws and the kernel's send queue as Node sees it, and in engine.io's buffer. */
const queuedBytes = function (conn: EngineSocket): number {

    let queued = conn.transport?.socket?.bufferedAmount ?? 0;
    for (const packet of conn.writeBuffer) {
        queued += typeof packet.data === 'string' ? packet.data.length : 0;
    }

    return queued;
};
