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
    /** Bytes of replay this socket may still be sent: a bucket of maxBufferedBytes, refilled at replayBytesPerSecond. */
    replayBytes: number;
    replayRefilledAt: number;
}

const SWEEP_MS = 200;
const MAX_EPOCH_LENGTH = 64;
// What a frame costs beyond its markup (JSON quoting, the stream's meta), counted per message
const FRAME_OVERHEAD = 16;


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
export const originAllowed = function (request: IncomingMessage, origins: SocketIoTransportOptions['origins']): boolean {

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

            const now = Date.now();
            const state: SocketState = { user: null, streams: new Set(), tokens: options.limits.subscribeBurst, refilledAt: now, replayBytes: options.limits.maxBufferedBytes, replayRefilledAt: now };
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

        this.#handle(socket, 'subscribe', (payload, ack) => this.#subscribe(socket, payload, ack));
        this.#handle(socket, 'unsubscribe', (payload, ack) => this.#unsubscribe(socket, payload, ack));
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

                this.#log(['hapi-turbo', 'error'], { event, socket: socket.id, message: (error as Error | null)?.message ?? String(error), error });
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

    // Logging must not be what throws out of a safety net
    #log(tags: string[], data: object): void {

        try {
            this.#options.log(tags, data);
        }
        catch {
            // The server's log listeners failed: nowhere left to report it
        }
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
        if (!answer.ok) {
            // Named only when the signature holds: anything else is the client's invention
            const name = answer.error === 'forbidden' ? verifyStreamName(signedNameOf(payload), this.#options.secrets) : null;
            this.#log(['hapi-turbo', 'subscribe', 'debug'], { message: `subscription refused (${answer.error})${name === null ? '' : `: ${name}`}`, socket: socket.id, error: answer.error, ...(name === null ? {} : { stream: name }) });

            // Access is checked on every subscribe: refused now means out, even if it was let in before
            if (name !== null && state.streams.delete(name)) {
                await socket.leave(name);
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
        // An adapter that joins asynchronously has joined once the promise settles; the replay is read after.
        const joined = socket.join(stream);
        state.streams.add(stream);
        if (joined instanceof Promise) {
            await joined;
        }

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

        if ('records' in resume && resume.records.length && !this.#replayFits(socket, resume.records)) {
            ++this.replaysRefused;
            this.#log(['hapi-turbo', 'replay', 'debug'], { message: `replay of ${resume.records.length} messages over budget, answered gap: ${stream}`, socket: socket.id, stream, messages: resume.records.length });
            resume = { gap: true };                                         // The page refreshes instead
        }

        const position = log.position(stream);
        ack?.({ ok: true, stream, epoch: position.epoch, seq: position.seq, ...('gap' in resume ? { gap: true } : {}) });
        if ('records' in resume && resume.records.length) {
            socket.emit('turbo-stream', ...frameOf(resume.records, socket.id));
        }
    }

    /**
     * Whether a replay may be queued for the socket, counting it against the socket's replay budget,
     * its own output waiting and everyone's. Checked when the replay is queued, before it is encoded:
     * the sweep alone would see it only after it took the memory.
     */
    #replayFits(socket: Socket, records: readonly BroadcastRecord[]): boolean {

        const state = socket.data as SocketState;
        const { maxBufferedBytes, maxTotalBufferedBytes, replayBytesPerSecond } = this.#options.limits;
        const bytes = records.reduce((sum, record) => sum + record.html.length + FRAME_OVERHEAD, 0);
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

    async #unsubscribe(socket: Socket, payload: unknown, ack: Ack | undefined): Promise<void> {

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
        await socket.leave(name);
        ack?.({ ok: true, stream: name });
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

        this.#queuedTotal += members * records.reduce((sum, record) => sum + record.html.length + FRAME_OVERHEAD, 0);
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
            this.#log(['hapi-turbo', 'error'], { message: (error as Error).message, error });
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
        this.#log(['hapi-turbo', 'slow-client'], { id: conn.id, queued, limit, ...(total === undefined ? {} : { total, totalLimit: this.#options.limits.maxTotalBufferedBytes }) });
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
