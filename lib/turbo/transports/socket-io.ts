import type { IncomingMessage, Server as HttpServer } from 'node:http';

import { Server, type Namespace, type ServerOptions, type Socket } from 'socket.io';

import type { BroadcastRecord, Transport } from '../broadcaster.ts';
import type { StreamLog, StreamPosition } from '../replay.ts';
import { signedNameOf, type Authorizer } from '../subscriptions.ts';
import { verifyStreamName, type StreamSecret } from '../signing.ts';

export const NAMESPACE = '/turbo';

export interface SocketLimits {
    /** Largest frame a client may send; subscribe frames are tiny. */
    maxFrameBytes: number;
    /** Streams one socket may be subscribed to at once. */
    maxSubscriptions: number;
    /** Subscribe and unsubscribe frames a socket may send in a burst, then per second. */
    subscribeBurst: number;
    subscribePerSecond: number;
    /** Output a socket may have waiting (it stopped reading) before it is disconnected. */
    maxBufferedBytes: number;
}

export interface SocketIoTransportOptions {
    listener: HttpServer;
    path: string;
    secrets: readonly StreamSecret[];
    authorize: Authorizer;
    /** Finds the user of a connecting socket from its handshake (cookies, authorization header). */
    identify: (headers: Record<string, string | string[] | undefined>) => Promise<unknown>;
    log: (tags: string[], data: object) => void;
    replay: StreamLog;
    /** A socket.io adapter factory (the Redis Streams adapter when several processes share the work). */
    adapter?: ServerOptions['adapter'];
    /** Origins allowed to open a socket: '*', a list, or undefined for the server's own origin only. */
    origins?: '*' | readonly string[];
    limits: SocketLimits;
}

type Ack = (answer: object) => void;

interface SocketState {
    user: unknown;
    streams: Set<string>;
    tokens: number;
    refilledAt: number;
}

const SWEEP_MS = 200;
const MAX_EPOCH_LENGTH = 64;


// socket.io passes the ack callback as the last argument, if the client asked for one
const splitAck = function (args: unknown[]): [unknown, Ack | undefined] {

    const last = args[args.length - 1];
    return typeof last === 'function' ? [args[0], last as Ack] : [args[0], undefined];
};


/** `since` of a subscribe frame: absent (undefined), a valid position, or null when malformed. */
const sinceOf = function (payload: unknown): StreamPosition | undefined | null {

    const since = (payload as { since?: unknown } | null)?.since;
    if (since === undefined) {
        return undefined;
    }

    const { epoch, seq } = (since ?? {}) as { epoch?: unknown; seq?: unknown };
    if (typeof epoch !== 'string' || epoch.length > MAX_EPOCH_LENGTH || !Number.isSafeInteger(seq) || (seq as number) < 0) {
        return null;
    }

    return { epoch, seq: seq as number };
};


/**
 * The arguments of a `turbo-stream` event. One message: `(html, { stream, epoch, seq })`. Several
 * consecutive messages of a stream: `(html[], { stream, epoch, seq, count })`, where `seq` is the
 * last one's and the array holds each message's markup in order, so a client that has seen some of
 * them applies only the rest. For `socketId`, the messages that skip it (toOthers) are empty
 * placeholders: its seqs stay gap-free.
 */
export const frameOf = function (records: readonly BroadcastRecord[], socketId?: string): [string | string[], object] {

    const last = records[records.length - 1]!;
    const meta = { stream: last.stream, epoch: last.epoch, seq: last.seq };
    const htmlOf = (record: BroadcastRecord) => socketId !== undefined && record.except === socketId ? '' : record.html;
    return records.length === 1 ? [htmlOf(last), meta] : [records.map(htmlOf), { ...meta, count: records.length }];
};


/**
 * Browsers always send Origin on WebSocket handshakes, and CORS settings do not stop a page on
 * another site from opening one with the user's cookies (cross-site WebSocket hijacking). Requests
 * without an Origin come from non-browser clients, which can forge any header anyway.
 */
export const originAllowed = function (request: IncomingMessage, origins: SocketIoTransportOptions['origins']): boolean {

    const origin = request.headers.origin;
    if (origin === undefined || origins === '*') {
        return true;
    }

    if (origins) {
        return origins.includes(origin);
    }

    try {
        return new URL(origin).host === request.headers.host;
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
    /** Sockets disconnected because their output backed up. */
    slowDisconnects = 0;

    readonly #options: SocketIoTransportOptions;
    #sweeper: NodeJS.Timeout | undefined;

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

            const state: SocketState = { user: null, streams: new Set(), tokens: options.limits.subscribeBurst, refilledAt: Date.now() };
            socket.data = state;
            try {
                state.user = await options.identify(socket.handshake.headers);
            }
            catch (error) {
                options.log(['hapi-turbo', 'auth', 'error'], { message: (error as Error).message });
            }

            next();
        });

        this.namespace.on('connection', (socket) => this.#connected(socket));
        this.start();
    }

    start(): void {

        this.#sweeper ??= setInterval(() => this.#disconnectSlowClients(), SWEEP_MS).unref();
    }

    #connected(socket: Socket): void {

        socket.on('subscribe', (...args: unknown[]) => void this.#subscribe(socket, ...splitAck(args)));
        socket.on('unsubscribe', (...args: unknown[]) => this.#unsubscribe(socket, ...splitAck(args)));
    }

    // A token bucket per socket: a burst, then a steady rate
    #allow(state: SocketState): boolean {

        const now = Date.now();
        const { subscribeBurst, subscribePerSecond } = this.#options.limits;
        state.tokens = Math.min(subscribeBurst, state.tokens + (now - state.refilledAt) * subscribePerSecond / 1000);
        state.refilledAt = now;
        if (state.tokens < 1) {
            return false;
        }

        --state.tokens;
        return true;
    }

    async #subscribe(socket: Socket, payload: unknown, ack: Ack | undefined): Promise<void> {

        const state = socket.data as SocketState;
        if (!this.#allow(state)) {
            ack?.({ ok: false, error: 'rate-limited' });
            return;
        }

        const since = sinceOf(payload);
        if (since === null) {
            ack?.({ ok: false, error: 'bad-request' });
            return;
        }

        const answer = await this.#options.authorize(payload, state.user);
        if (!answer.ok && answer.error === 'forbidden') {
            // Access is checked on every subscribe: refused now means out, even if it was let in before
            const name = verifyStreamName(signedNameOf(payload), this.#options.secrets);
            if (name !== null && state.streams.delete(name)) {
                void socket.leave(name);
            }
        }

        if (!answer.ok || !socket.connected) {
            ack?.(answer);
            return;
        }

        const stream = answer.stream;
        if (!state.streams.has(stream) && state.streams.size >= this.#options.limits.maxSubscriptions) {
            ack?.({ ok: false, error: 'too-many-subscriptions' });
            return;
        }

        // The socket joins before the replay is read: a broadcast is either in the replay (published
        // before) or delivered through the room (after), never neither; one in both arrives twice
        // and the client drops the second. The ack goes first so the client knows the stream's name
        // when the replayed messages arrive. With the in-memory log all of it is one synchronous step.
        state.streams.add(stream);
        const joined = socket.join(stream);
        const log = this.#options.replay;
        if (!since && log.refresh) {
            await log.refresh([stream]).catch(() => undefined);            // The ack must say where the stream stands
        }

        let resume = since ? log.resume(stream, since) : { records: [] };
        if (resume instanceof Promise) {
            try {
                resume = await resume;
            }
            catch (error) {
                this.#options.log(['hapi-turbo', 'subscribe', 'error'], { stream, message: (error as Error).message });
                resume = { gap: true };                                     // Cannot tell what was missed: refresh
            }
        }

        const position = log.position(stream);
        ack?.({ ok: true, stream, epoch: position.epoch, seq: position.seq, ...('gap' in resume ? { gap: true } : {}) });
        if ('records' in resume && resume.records.length) {
            socket.emit('turbo-stream', ...frameOf(resume.records, socket.id));
        }

        await joined;
    }

    #unsubscribe(socket: Socket, payload: unknown, ack: Ack | undefined): void {

        const state = socket.data as SocketState;
        if (!this.#allow(state)) {
            ack?.({ ok: false, error: 'rate-limited' });
            return;
        }

        const signed = signedNameOf(payload);
        const name = signed === null ? null : verifyStreamName(signed, this.#options.secrets);
        if (name === null) {
            ack?.({ ok: false, error: signed === null ? 'bad-request' : 'invalid-signature' });
            return;
        }

        state.streams.delete(name);
        void socket.leave(name);
        ack?.({ ok: true, stream: name });
    }

    publish(records: readonly BroadcastRecord[]): void {

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

    // A client that stops reading leaves its messages queued in this process: first in the kernel,
    // then in ws, then in engine.io's write buffer. Past the limit it is cut off; when it comes back
    // it resumes from its position or refreshes.
    #disconnectSlowClients(): void {

        const limit = this.#options.limits.maxBufferedBytes;
        const clients = (this.io.engine as unknown as { clients: Record<string, EngineSocket> }).clients;
        for (const conn of Object.values(clients)) {
            const queued = (conn.transport?.socket?.bufferedAmount ?? 0) + conn.writeBuffer.reduce((sum, packet) => sum + (typeof packet.data === 'string' ? packet.data.length : 0), 0);
            // Over the limit on two sweeps in a row: a reader that is merely behind after a burst
            // drains within one sweep and is left alone
            if (queued <= limit) {
                conn.hapiTurboOverLimit = false;
                continue;
            }

            if (!conn.hapiTurboOverLimit) {
                conn.hapiTurboOverLimit = true;
                continue;
            }

            ++this.slowDisconnects;
            this.#options.log(['hapi-turbo', 'slow-client'], { id: conn.id, queued, limit });
            conn.transport?.socket?.terminate?.();
            conn.close(true);
        }
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
    writeBuffer: { data?: unknown }[];
    transport?: { socket?: { bufferedAmount?: number; terminate?: () => void } };
    close(discard?: boolean): void;
}
