import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import Boom from '@hapi/boom';
import type { Plugin, Request, ResponseObject, ResponseToolkit, RouteOptionsAccess, Server } from '@hapi/hapi';
import Inert from '@hapi/inert';
import type {} from '@hapi/vision';
import type { ServerOptions as SocketIoServerOptions, Server as SocketIoServer } from 'socket.io';

import { Broadcaster, type BroadcastObserver, type BroadcastStats, type Transport } from './broadcaster.ts';
import { componentResolver, partialRenderer, type ViewsManager } from './components.ts';
import { TurboStream } from './fragment.ts';
import { createHelpers } from './helpers.ts';
import { ModelStream, wireModelStreams } from './model-stream.ts';
import { discoverStreams, StreamRegistry } from './registry.ts';
import { attachRefreshes, RefreshScheduler, type RefreshOptions } from './refresh.ts';
import { cachedTemplates, renderFragments, type FragmentInput, type VisionManager } from './renderer.ts';
import { installRequestContext } from './request-context.ts';
import { applyOptions, type ValidatedOptions } from './schemas.ts';
import { signStreamName, verifyStreamName, type StreamSecret } from './signing.ts';
import { bindStream, runtimeOf, Stream, unbindStream } from './stream.ts';
import { connectRedis, loadRedis, RedisStreamLog, type RedisClient } from './redis.ts';
import { ReplayLog, type ReplayOptions, type StreamLog, type StreamPosition } from './replay.ts';
import { createAuthorizer } from './subscriptions.ts';
import { MemoryTransport } from './transports/memory.ts';
import { SocketIoTransport, type SocketLimits } from './transports/socket-io.ts';
import { instanceOf, toViewContext } from './view-context.ts';

export const TURBO_STREAM_TYPE = 'text/vnd.turbo-stream.html';

// Found through the package's own name, so the same code works from lib/turbo/ and from dist/
const require = createRequire(import.meta.url);
const ROOT = dirname(require.resolve('hapi-turbo/package.json'));
const pkg = require(join(ROOT, 'package.json')) as { name: string; version: string };

/** Options of `server.register({ plugin: HapiTurbo, options })`; see docs/protocol.md and the README. */
export interface HapiTurboOptions {
    /**
     * Signs stream names: a string or a Buffer (the key's bytes, e.g. `Buffer.from(process.env.KEY, 'hex')`),
     * at least 32 bytes. A list rotates keys (sign with the first, verify with all). Required unless NODE_ENV=test.
     */
    secret?: StreamSecret | StreamSecret[];
    /** Lets `static model = 'Message'` name a model of this instance. */
    sequelize?: import('sequelize').Sequelize;
    /** Stream classes by app: `{ chat: [RoomStream, MessageStream] }` or `{ chat: await import('./streams.ts') }`. */
    streams?: import('./registry.ts').StreamDeclarations;
    /** Where to discover `<app>/streams.ts` when `streams` is not given (default: `<cwd>/lib`). */
    streamsPath?: string;
    /** Install the Sequelize hooks of ModelStreams (default true); false in processes that only broadcast by name. */
    hooks?: boolean;
    /** `'socket.io'` (default) or `'memory'` (in-process, for tests and scripts). */
    transport?: 'socket.io' | 'memory';
    /** socket.io's HTTP path (default `/socket.io`). */
    path?: string;
    /** Where the browser assets are served (default `/_turbo`). */
    assetsPath?: string;
    /** How a socket finds its user: an auth strategy name or route auth config; false for none. */
    auth?: false | string | RouteOptionsAccess;
    /** Origins whose pages may open a socket: '*', a list of origins, or (default) the server's own. */
    origins?: '*' | string[];
    /**
     * `true` (the default, adaptive): a broadcast to an idle stream leaves at once, and broadcasts
     * arriving while that frame is still being written leave together in the next one. `{ window }`:
     * broadcasts to one stream within one event-loop turn (`window: 0`) or within `window` ms leave
     * as one frame. `false` sends each broadcast as its own frame.
     */
    batch?: boolean | { window?: number };
    /**
     * Redis URL (`redis://…`): socket.io rooms go through the Redis Streams adapter, and sequence
     * counters and replay buffers live in Redis, so several processes serve the same streams and any
     * of them, or a script, can broadcast (docs/scaling.md).
     */
    redis?: string | { url: string };
    /** The replay buffer that lets reconnecting pages catch up (docs/guarantees.md). */
    replay?: Partial<ReplayOptions>;
    /** How refresh broadcasts (`static broadcastsRefreshes`) are coalesced: `{ debounce: 500, mode: 'debounce' | 'throttle' }`. */
    refresh?: Partial<RefreshOptions>;
    /** Per-socket limits against broken and hostile clients (docs/guarantees.md). */
    limits?: Partial<SocketLimits>;
}

/** `server.turbo` */
export interface TurboApi {
    /** Renders the fragments once and sends them, as one message, to every stream named (blank ones skipped). */
    broadcast(streamables: unknown, ...fragments: FragmentInput[]): Promise<void>;
    /** The same, skipping the page whose request is being handled (its X-Turbo-Socket-Id): it gets an empty placeholder. */
    broadcastToOthers(streamables: unknown, ...fragments: FragmentInput[]): Promise<void>;
    /** Renders fragments to <turbo-stream> markup (the same path broadcasts take). */
    render(...fragments: FragmentInput[]): Promise<string>;
    sign(name: string): string;
    verify(signed: unknown): string | null;
    /** The stream name of a row, a Stream, an "<app>:<Class>" name or a plain name. */
    streamName(streamable: unknown): string;
    signedStreamName(streamable: unknown): string;
    /** Where a stream stands: the epoch of its counter and the seq of its last message, as this process knows it. */
    position(streamable: unknown): StreamPosition;
    /** The same, asked of the shared log when there is one (Redis). */
    fetchPosition(streamable: unknown): Promise<StreamPosition>;
    observe(observer: BroadcastObserver): () => void;
    /** Sends debounced refreshes now and resolves once every broadcast started so far has been published. */
    drain(): Promise<void>;
    readonly stats: Readonly<BroadcastStats>;
    readonly transport: Transport;
    /** The socket.io server, when that is the transport. */
    readonly io: SocketIoServer | null;
    readonly registry: StreamRegistry;
}

declare module '@hapi/hapi' {
    interface Server {
        turbo: TurboApi;
    }

    interface ResponseToolkit {
        /** Replies with the fragments as `text/vnd.turbo-stream.html`. */
        turboStream(...fragments: FragmentInput[]): Promise<ResponseObject>;
    }

    interface Request {
        /** The client said it accepts Turbo Stream responses (Turbo does so on form submissions). */
        acceptsTurboStream: boolean;
    }
}


/** The turbo API of every server registered and not yet stopped in this process (for the testing kit). */
export const liveTurbos = new Set<TurboApi>();


const STATIC = join(ROOT, 'static', 'turbo');

// A Map: names come from the URL, and a plain object would also answer to __proto__, constructor…
const assetFiles = function (): Map<string, string> {

    const turbo = join(dirname(require.resolve('@hotwired/turbo/package.json')), 'dist');
    const socketIo = join(dirname(require.resolve('socket.io-client/package.json')), 'dist');
    return new Map([
        ['hapi-turbo.js', join(STATIC, 'hapi-turbo.js')],
        ['stream-client.js', join(STATIC, 'stream-client.js')],
        ['turbo.es2017-esm.js', join(turbo, 'turbo.es2017-esm.js')],
        ['socket.io.esm.min.js', join(socketIo, 'socket.io.esm.min.js')],
        ['socket.io.esm.min.js.map', join(socketIo, 'socket.io.esm.min.js.map')]
    ]);
};


const subscribed = async function (client: RedisClient, channel: string): Promise<void> {

    for (const until = Date.now() + 2000; Date.now() < until;) {
        const counts = await client.pubSubNumSub(channel).catch(() => ({} as Record<string, number>));
        if (Number(counts[channel] ?? 0) > 0) {
            return;
        }

        await new Promise((resolve) => setTimeout(resolve, 20));
    }
};


// The streams a page's context can subscribe to: rows with a ModelStream, Stream instances, and
// every registered stream class that takes no arguments
const streamsIn = function (context: object, registry: StreamRegistry): string[] {

    const names = new Set<string>();
    const visit = (value: unknown, depth: number) => {

        if (value === null || typeof value !== 'object' || depth > 4) {
            return;
        }

        if (value instanceof Stream) {
            names.add(value.name);
            return;
        }

        const instance = instanceOf(value);
        if (instance) {
            const stream = (instance as unknown as { stream?: unknown }).stream;
            if (stream instanceof Stream) {
                names.add(stream.name);
            }
        }

        for (const item of Array.isArray(value) ? value : Object.values(value)) {
            visit(item, depth + 1);
        }
    };

    visit(context, 0);
    for (const [identity, cls] of registry.entries) {
        if (cls.length === 0 && !(cls.prototype instanceof ModelStream)) {
            names.add(identity);
        }
    }

    return [...names];
};


const acceptsTurboStream = function (request: Request): boolean {

    const accept = String(request.headers.accept ?? '');
    return accept.split(',').some((type) => type.split(';')[0]!.trim() === TURBO_STREAM_TYPE);
};


// The route sockets are identified through: hapi runs the app's own auth for the handshake headers
const identityAuth = function (server: Server, option: ValidatedOptions['auth']): RouteOptionsAccess | false {

    if (option === false) {
        return false;
    }

    if (typeof option === 'string') {
        return { strategy: option, mode: 'try' };
    }

    if (option) {
        return option as RouteOptionsAccess;
    }

    return server.auth.settings.default ? { mode: 'try' } : false;
};


const register = async function (server: Server, rawOptions: HapiTurboOptions): Promise<void> {

    const options = applyOptions(rawOptions);
    const secrets = options.secret === undefined ? [randomBytes(32).toString('hex')] : [options.secret].flat();

    await server.register(Inert);                                       // once: a no-op when the app has it

    const declarations = options.streams ?? await discoverStreams(options.streamsPath ?? join(process.cwd(), 'lib'));
    const registry = new StreamRegistry(declarations, options.sequelize);

    const identityPath = `${options.assetsPath}/identity`;
    let identityRoute = false;
    const identify = async function (headers: Record<string, string | string[] | undefined>): Promise<unknown> {

        if (!identityRoute) {
            return null;
        }

        const forwarded: Record<string, string> = {};
        for (const name of ['cookie', 'authorization'] as const) {
            const value = headers[name];
            if (typeof value === 'string') {
                forwarded[name] = value;
            }
        }

        const res = await server.inject({ method: 'GET', url: identityPath, headers: forwarded, allowInternals: true });
        return (res.result as { credentials?: unknown } | null)?.credentials ?? null;
    };

    const log = (tags: string[], data: object) => server.log(tags, data);
    const authorize = createAuthorizer({ secrets, registry, log });
    // With Redis: one client for the log, which fails fast while Redis is away (a broadcast then
    // fails and is logged), and one for the socket.io adapter, which waits for Redis to come back
    const redisUrl = typeof options.redis === 'string' ? options.redis : options.redis?.url;
    const redis: RedisClient[] = [];
    let replay: StreamLog = new ReplayLog(options.replay);
    let adapter: SocketIoServerOptions['adapter'] | undefined;
    if (redisUrl) {
        const { createAdapter } = await loadRedis();
        redis.push(await connectRedis(redisUrl, log, { failFast: true }), await connectRedis(redisUrl, log, { failFast: false }));
        replay = new RedisStreamLog(redis[0]!, options.replay);
        adapter = createAdapter(redis[1]!, { blockTimeInMs: 1000 });
    }

    const transport: Transport = options.transport === 'memory' ?
        new MemoryTransport() :
        new SocketIoTransport({ listener: server.listener, path: options.path, secrets, authorize, identify, log, replay, adapter, origins: options.origins, limits: options.limits });

    const renderTemplate = cachedTemplates(() => server.getViewsManager() as unknown as VisionManager | null, (template, context) => server.render(template, context, { layout: false } as never));
    const broadcaster = new Broadcaster({ transport, log, renderTemplate, replay, batch: options.batch });
    const refreshes = new RefreshScheduler(options.refresh, async (stream, requestId) => await broadcaster.broadcast([stream], [TurboStream.refresh({ requestId })]));
    installRequestContext(server);

    // Stream classes find this server through their binding. onPostStop unbinds them, so a server
    // started again (after stop()) binds them again: otherwise its hooks and broadcasts went nowhere
    const bindStreams = function (): void {

        for (const [identity, cls] of registry.entries) {
            bindStream(cls, identity, broadcaster);
        }
    };

    bindStreams();
    if (options.hooks) {
        wireModelStreams(registry.modelStreams, (cls, body, about) => runtimeOf(cls)?.runHook(body, about) ?? Promise.resolve());
    }

    // Signing is an HMAC per name; pages print the same few names over and over
    const signed = new Map<string, string>();
    const sign = function (name: string): string {

        let value = signed.get(name);
        if (value === undefined) {
            value = signStreamName(name, secrets[0]!);
            if (signed.size >= 10_000) {
                signed.clear();
            }

            signed.set(name, value);
        }

        return value;
    };

    const resolveName = (streamable: unknown): string => {

        const stream = registry.resolve(streamable);
        return typeof stream === 'string' ? stream : stream.name;
    };

    attachRefreshes(broadcaster, refreshes, resolveName);

    // Blank streamables (null, '', [null]) are skipped, and a broadcast to none of them is a no-op, as in turbo-rails
    const broadcastTo = (streamables: unknown, fragments: FragmentInput[], toOthers: boolean): Promise<void> => {

        const streams = registry.resolveAll(streamables);
        if (!streams.length) {
            log(['hapi-turbo', 'broadcast', 'blank'], { message: 'broadcast to blank streamables: nothing sent' });
            return Promise.resolve();
        }

        return broadcaster.broadcast(streams, fragments, { toOthers });
    };

    const api: TurboApi = {
        broadcast: (streamables, ...fragments) => broadcastTo(streamables, fragments, false),
        broadcastToOthers: (streamables, ...fragments) => broadcastTo(streamables, fragments, true),
        render: (...fragments) => renderFragments(fragments, renderTemplate),
        sign,
        verify: (value) => verifyStreamName(value, secrets),
        streamName: resolveName,
        signedStreamName: (streamable) => sign(resolveName(streamable)),
        position: (streamable) => broadcaster.position(resolveName(streamable)),
        fetchPosition: async (streamable) => {

            const name = resolveName(streamable);
            await replay.refresh?.([name]);
            return replay.position(name);
        },
        observe: (observer) => broadcaster.observe(observer),
        drain: async () => {

            await refreshes.flush();
            await broadcaster.drain();
        },
        stats: broadcaster.stats,
        transport,
        io: transport instanceof SocketIoTransport ? transport.io : null,
        registry
    };

    server.decorate('server', 'turbo', api);
    liveTurbos.add(api);
    server.decorate('toolkit', 'turboStream', async function (this: ResponseToolkit, ...fragments: FragmentInput[]) {

        return this.response(await api.render(...fragments)).type(TURBO_STREAM_TYPE);
    });

    server.decorate('request', 'acceptsTurboStream', acceptsTurboStream, { apply: true });

    const files = assetFiles();
    server.route({
        method: 'GET',
        path: `${options.assetsPath}/{file}`,
        options: { auth: false },
        handler: (request, h) => {

            const file = files.get(request.params.file as string);
            if (!file) {
                throw Boom.notFound();
            }

            return h.file(file, { confine: false });
        }
    });

    // Pages get the same model-instance handling as broadcasts (see view-context.ts). With a shared
    // log, the positions of the streams a page may subscribe to are fetched before it renders.
    server.ext('onPreResponse', async (request, h) => {

        const response = request.response as { variety?: string; source?: { context?: object } };
        if (response.variety === 'view' && response.source?.context) {
            response.source.context = toViewContext(response.source.context);
            if (replay.refresh) {
                await replay.refresh(streamsIn(response.source.context, registry)).catch((error: Error) => {

                    log(['hapi-turbo', 'redis', 'error'], { message: error.message });
                });
            }
        }

        return h.continue;
    });

    server.ext('onPreStart', () => {

        liveTurbos.add(api);
        bindStreams();
        const manager = server.getViewsManager();
        if (!manager) {
            throw new Error('hapi-turbo needs a views manager: call server.views({ engines: { html: Handlebars }, ... }) before starting');
        }

        transport.start?.();
        const helpers = createHelpers({
            subscription: (streamable) => {

                const name = resolveName(streamable);
                return { signed: sign(name), ...broadcaster.position(name) };
            },
            component: componentResolver(registry, partialRenderer(manager as ViewsManager)),
            assetsPath: options.assetsPath,
            socketPath: options.path
        });
        for (const [name, helper] of Object.entries(helpers)) {
            manager.registerHelper(name, helper);
        }

        const auth = identityAuth(server, options.auth);
        if (auth && !identityRoute) {
            server.route({
                method: 'GET',
                path: identityPath,
                options: { isInternal: true, auth },
                handler: (request) => ({ credentials: request.auth.credentials ?? null })
            });

            identityRoute = true;
        }
    });

    server.ext('onPreStop', async () => {

        await refreshes.flush();
        await broadcaster.drain();
        await transport.stop();
    });

    server.ext('onPostStop', async () => {

        if (transport instanceof SocketIoTransport) {
            const namespaces = [transport.io.of('/'), transport.namespace];
            if (redis.length) {
                // The Redis adapter subscribes to its channels in the background; closing it before
                // that finished (a script that broadcasts once and exits) would reject the pending
                // SUBSCRIBE with nobody to catch it
                await Promise.all(namespaces.map((namespace) => subscribed(redis[0]!, `socket.io#${namespace.name}#${(namespace.adapter as unknown as { uid: string }).uid}#`)));
            }

            for (const namespace of namespaces) {
                namespace.adapter.close();
            }
        }

        await Promise.all(redis.map((client) => client.quit().catch(() => undefined)));

        liveTurbos.delete(api);
        refreshes.stop();
        for (const [, cls] of registry.entries) {
            unbindStream(cls, broadcaster);
        }
    });
};


export const plugin: Plugin<HapiTurboOptions> = {
    name: pkg.name,
    version: pkg.version,
    requirements: { hapi: '>=21' },
    dependencies: { '@hapi/vision': '>=7' },
    once: true,
    register
};
