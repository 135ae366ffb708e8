import type { Server as HttpServer } from 'node:http';

import { Server, type Namespace, type Socket } from 'socket.io';

import type { BroadcastRecord, Transport } from '../broadcaster.ts';
import { signedNameOf, type Authorizer } from '../subscriptions.ts';
import { verifyStreamName } from '../signing.ts';

export const NAMESPACE = '/turbo';

export interface SocketIoTransportOptions {
    listener: HttpServer;
    path: string;
    secrets: readonly string[];
    authorize: Authorizer;
    /** Finds the user of a connecting socket from its handshake (cookies, authorization header). */
    identify: (headers: Record<string, string | string[] | undefined>) => Promise<unknown>;
    log: (tags: string[], data: object) => void;
    /** Largest frame a client may send; subscribe frames are tiny. */
    maxFrameBytes: number;
}

type Ack = (answer: object) => void;


// socket.io passes the ack callback as the last argument, if the client asked for one
const splitAck = function (args: unknown[]): [unknown, Ack | undefined] {

    const last = args[args.length - 1];
    return typeof last === 'function' ? [args[0], last as Ack] : [args[0], undefined];
};


/**
 * Rooms on socket.io's `/turbo` namespace, one per stream, on hapi's own listener. Clients emit
 * `subscribe` / `unsubscribe` with `{ signedStreamName }` and an ack; broadcasts arrive as
 * `turbo-stream` events with `(html, { stream, seq })`. See docs/protocol.md.
 */
export class SocketIoTransport implements Transport {

    readonly kind = 'socket.io';
    readonly io: Server;
    readonly namespace: Namespace;

    readonly #options: SocketIoTransportOptions;

    constructor(options: SocketIoTransportOptions) {

        this.#options = options;
        this.io = new Server(options.listener, {
            path: options.path,
            serveClient: false,                             // The plugin serves the ESM client with its assets
            maxHttpBufferSize: options.maxFrameBytes
        });

        // Only /turbo speaks the protocol; refuse the default namespace rather than keep idle sockets
        this.io.of('/').use((_socket, next) => next(new Error('hapi-turbo listens on the /turbo namespace')));

        this.namespace = this.io.of(NAMESPACE);
        this.namespace.use(async (socket, next) => {

            try {
                socket.data.user = await options.identify(socket.handshake.headers);
            }
            catch (error) {
                options.log(['hapi-turbo', 'auth', 'error'], { message: (error as Error).message });
                socket.data.user = null;
            }

            next();
        });

        this.namespace.on('connection', (socket) => this.#connected(socket));
    }

    #connected(socket: Socket): void {

        socket.on('subscribe', (...args: unknown[]) => void this.#subscribe(socket, ...splitAck(args)));
        socket.on('unsubscribe', (...args: unknown[]) => this.#unsubscribe(socket, ...splitAck(args)));
    }

    async #subscribe(socket: Socket, payload: unknown, ack: Ack | undefined): Promise<void> {

        const answer = await this.#options.authorize(payload, socket.data.user);
        if (answer.ok && socket.connected) {
            await socket.join(answer.stream);
        }

        ack?.(answer);
    }

    #unsubscribe(socket: Socket, payload: unknown, ack: Ack | undefined): void {

        const signed = signedNameOf(payload);
        const name = signed === null ? null : verifyStreamName(signed, this.#options.secrets);
        if (name === null) {
            ack?.({ ok: false, error: signed === null ? 'bad-request' : 'invalid-signature' });
            return;
        }

        void socket.leave(name);
        ack?.({ ok: true, stream: name });
    }

    publish(record: BroadcastRecord): void {

        this.namespace.to(record.stream).emit('turbo-stream', record.html, { stream: record.stream, seq: record.seq });
    }

    // Closes every connection without a socket.io "disconnect" packet, so clients see the transport
    // drop and reconnect by themselves (to this server once it starts again, or to another one).
    // io.close() is not used: it would also close hapi's listener, which hapi closes itself.
    stop(): Promise<void> {

        this.io.engine.close();
        return Promise.resolve();
    }
}
