import { randomBytes } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { join } from 'node:path';

import type { ServerOptions as SocketIoServerOptions } from 'socket.io';

import { Broadcaster, type BroadcastObserver, type Transport } from './broadcaster.ts';
import { TurboStream } from './fragment.ts';
import { runHook } from './hook-scope.ts';
import { ModelStream } from './model-stream.ts';
import { RefreshScheduler, type RefreshTargets } from './refresh.ts';
import { discoverStreams, StreamRegistry } from './registry.ts';
import { connectRedis, loadRedis, RedisStreamLog, type RedisClient } from './redis.ts';
import { renderFragments, type FragmentInput, type TemplateRenderer } from './renderer.ts';
import { ReplayLog, type StreamLog, type StreamPosition } from './replay.ts';
import { currentRequestId } from './request-context.ts';
import type { ValidatedOptions } from './schemas.ts';
import { signStreamName, verifyStreamName, type StreamSecret } from './signing.ts';
import { bindStream, nameOf, Stream, unbindStream, type BroadcastOptions, type StreamRuntime } from './stream.ts';
import { SubscriptionProtocol } from './subscriptions.ts';
import { broadcastsSuppressed } from './suppression.ts';
import { MemoryTransport } from './transports/memory.ts';
import { SocketIoTransport } from './transports/socket-io.ts';
import { instanceOf } from './view-context.ts';

export type Log = (tags: string[], data: object) => void;

// The server's log listeners may throw: nothing hapi-turbo reports (from a socket's frame, a hook, a
// broadcast) may fail because of them, so every part of the runtime gets the log through this
const quietly = (log: Log): Log => (tags, data) => {

    try {
        log(tags, data);
    }
    catch {
        // The log's listeners failed: nowhere left to report it
    }
};

/** What the runtime needs from its host (the hapi plugin, or anything else that renders). */
export interface RuntimeHost {
    /** The HTTP server socket.io attaches to. */
    listener: HttpServer;
    log: Log;
    renderTemplate: TemplateRenderer;
    /** Finds the user of a connecting socket from its handshake headers. */
    identify: (headers: Record<string, string | string[] | undefined>) => Promise<unknown>;
}


/**
 * The runtimes started and not yet closed in this process. The one process-wide registry of
 * hapi-turbo: the testing kit and drainBroadcasts() look here for every server of the process
 * (several may live in one test process), without knowing of hapi.
 */
export const liveRuntimes = new Set<TurboRuntime>();

const SIGNED_CACHE_SIZE = 10_000;
const noop = () => undefined;


const subscribed = async function (client: RedisClient, channel: string): Promise<void> {

    for (const until = Date.now() + 2000; Date.now() < until;) {
        const counts = await client.pubSubNumSub(channel).catch(() => ({} as Record<string, number>));
        if (Number(counts[channel] ?? 0) > 0) {
            return;
        }

        await new Promise((resolve) => setTimeout(resolve, 20));
    }
};


/**
 * One hapi-turbo instance, built from validated options: its stream registry, the log of stream
 * positions (replay), the transport, the broadcaster, the refresh scheduler and the signature
 * cache. Registered stream classes are bound to it: their model hooks and broadcasts call it directly.
 */
export class TurboRuntime implements StreamRuntime {

    readonly registry: StreamRegistry;
    readonly replay: StreamLog;
    readonly transport: Transport;
    readonly broadcaster: Broadcaster;
    readonly refreshes: RefreshScheduler;
    readonly hooks: boolean;

    readonly #secrets: readonly StreamSecret[];
    readonly #log: Log;
    readonly #renderTemplate: TemplateRenderer;
    readonly #redis: readonly RedisClient[];
    readonly #signed = new Map<string, string>();

    private constructor(parts: { options: ValidatedOptions; host: RuntimeHost; registry: StreamRegistry; secrets: StreamSecret[]; replay: StreamLog; redis: RedisClient[]; adapter?: SocketIoServerOptions['adapter'] }) {

        const { options, host, secrets, replay } = parts;
        this.registry = parts.registry;
        this.replay = replay;
        this.hooks = options.hooks;
        this.#secrets = secrets;
        this.#redis = parts.redis;
        const log = quietly(host.log);
        this.#log = log;
        this.#renderTemplate = host.renderTemplate;

        const protocol = new SubscriptionProtocol({ secrets, registry: this.registry, log, replay, identify: host.identify, limits: options.limits });
        this.transport = options.transport === 'memory' ?
            new MemoryTransport() :
            new SocketIoTransport({ listener: host.listener, path: options.path, protocol, log, adapter: parts.adapter, origins: options.origins, limits: options.limits });

        this.broadcaster = new Broadcaster({ transport: this.transport, log, renderTemplate: host.renderTemplate, replay, batch: options.batch });
        this.refreshes = new RefreshScheduler(options.refresh, async (stream, requestId) => await this.broadcaster.broadcast([stream], [TurboStream.refresh({ requestId })]));
    }

    static async create(options: ValidatedOptions, host: RuntimeHost): Promise<TurboRuntime> {

        const secrets = options.secret === undefined ? [randomBytes(32).toString('hex')] : [options.secret].flat();
        const declarations = options.streams ?? await discoverStreams(options.streamsPath ?? join(process.cwd(), 'lib'));
        const registry = new StreamRegistry(declarations, options.sequelize);

        // With Redis: one client for the log, which fails fast while Redis is away (a broadcast then
        // fails and is logged), and one for the socket.io adapter, which waits for Redis to come back
        const redisUrl = typeof options.redis === 'string' ? options.redis : options.redis?.url;
        if (!redisUrl) {
            return new TurboRuntime({ options, host, registry, secrets, replay: new ReplayLog(options.replay), redis: [] });
        }

        const { createAdapter } = await loadRedis();
        const redis = [await connectRedis(redisUrl, host.log, { failFast: true }), await connectRedis(redisUrl, host.log, { failFast: false })];
        const replay = new RedisStreamLog(redis[0]!, options.replay);
        return new TurboRuntime({ options, host, registry, secrets, replay, redis, adapter: createAdapter(redis[1]!, { blockTimeInMs: 1000 }) });
    }

    get stats() {

        return this.broadcaster.stats;
    }

    /** The socket.io server, when that is the transport. */
    get io() {

        return this.transport instanceof SocketIoTransport ? this.transport.io : null;
    }

    // Signing is an HMAC per name; pages print the same few names over and over
    sign(name: string): string {

        let value = this.#signed.get(name);
        if (value === undefined) {
            value = signStreamName(name, this.#secrets[0]!);
            if (this.#signed.size >= SIGNED_CACHE_SIZE) {
                this.#signed.clear();
            }

            this.#signed.set(name, value);
        }

        return value;
    }

    verify(signed: unknown): string | null {

        return verifyStreamName(signed, this.#secrets);
    }

    /** The stream name of a row, a Stream, an "<app>:<Class>" name or a plain name. */
    streamName(streamable: unknown): string {

        return nameOf(this.registry.resolve(streamable));
    }

    signedStreamName(streamable: unknown): string {

        return this.sign(this.streamName(streamable));
    }

    position(streamable: unknown): StreamPosition {

        return this.broadcaster.position(this.streamName(streamable));
    }

    async fetchPosition(streamable: unknown): Promise<StreamPosition> {

        const name = this.streamName(streamable);
        await this.replay.refresh?.([name]);
        return this.replay.position(name);
    }

    /** What {{turbo_subscribe}} prints: the signed name and where the stream stands. */
    subscription(streamable: unknown): { signed: string } & StreamPosition {

        const name = this.streamName(streamable);
        return { signed: this.sign(name), ...this.broadcaster.position(name) };
    }

    render(fragments: readonly FragmentInput[]): Promise<string> {

        return renderFragments(fragments, this.#renderTemplate);
    }

    /** The broadcast of registered stream classes (StreamRuntime). */
    broadcast(streams: readonly (Stream | string)[], fragments: readonly FragmentInput[], options?: BroadcastOptions): Promise<void> {

        return this.broadcaster.broadcast(streams, fragments, options);
    }

    // Blank streamables (null, '', [null]) are skipped, and a broadcast to none of them is a no-op, as in turbo-rails
    broadcastTo(streamables: unknown, fragments: readonly FragmentInput[], options: BroadcastOptions = {}): Promise<void> {

        const streams = this.registry.resolveAll(streamables);
        if (!streams.length) {
            this.#log(['hapi-turbo', 'broadcast', 'blank'], { message: 'broadcast to blank streamables: nothing sent' });
            return Promise.resolve();
        }

        return this.broadcaster.broadcast(streams, fragments, options);
    }

    runHook(body: () => unknown, about: Record<string, string>): Promise<void> {

        return runHook(body, (error) => this.broadcaster.fail({ error, ...about }));
    }

    /**
     * Called by the model hooks for every save and destroy of a row: schedules the refreshes its stream
     * class asks for, with the request id of the request being handled (the hook runs in its context).
     */
    refreshRow(cls: Function & { broadcastsRefreshes?: RefreshTargets }, stream: Stream, instance: object): Promise<void> {

        const targets = cls.broadcastsRefreshes;
        if (!targets || broadcastsSuppressed()) {
            return Promise.resolve();
        }

        // Blank targets are skipped as in every broadcast (registry.resolveAll)
        const streams = this.registry.resolveAll([stream, typeof targets === 'function' ? targets(instance as never) : []]);
        const names = new Set(streams.map(nameOf));
        const requestId = currentRequestId();
        return Promise.all([...names].map((name) => this.refreshes.schedule(name, requestId))).then(noop);
    }

    observe(observer: BroadcastObserver): () => void {

        return this.broadcaster.observe(observer);
    }

    /** Sends debounced refreshes now and resolves once every broadcast started so far has been published. */
    async drain(): Promise<void> {

        await this.refreshes.flush();
        await this.broadcaster.drain();
    }

    /**
     * With a shared log, fetches the positions of the streams a page's context may subscribe to, so
     * the page prints where they stand in every process.
     */
    async prefetchPositions(context: object): Promise<void> {

        // The in-process log knows every position already: no need to walk the page's context
        if (this.replay.refresh) {
            await this.replay.refresh(this.#streamsIn(context));
        }
    }

    /**
     * Binds the stream classes to this runtime and starts the transport. Called again when a stopped
     * server starts again: closing unbinds them, and otherwise its hooks and broadcasts went nowhere.
     */
    start(): void {

        this.bind();
        this.transport.start?.();
    }

    bind(): void {

        liveRuntimes.add(this);
        for (const [identity, cls] of this.registry.entries) {
            bindStream(cls, identity, this);
        }
    }

    /** Sends what is waiting and stops the transport (before the listener closes). */
    async stop(): Promise<void> {

        await this.drain();
        await this.transport.stop();
    }

    /** Closes adapters and Redis clients and unbinds the stream classes (after the listener closed). */
    async close(): Promise<void> {

        if (this.transport instanceof SocketIoTransport) {
            const namespaces = [this.transport.io.of('/'), this.transport.namespace];
            if (this.#redis.length) {
                // The Redis adapter subscribes to its channels in the background; closing it before
                // that finished (a script that broadcasts once and exits) would reject the pending
                // SUBSCRIBE with nobody to catch it
                await Promise.all(namespaces.map((namespace) => subscribed(this.#redis[0]!, `socket.io#${namespace.name}#${(namespace.adapter as unknown as { uid: string }).uid}#`)));
            }

            for (const namespace of namespaces) {
                namespace.adapter.close();
            }
        }

        await Promise.all(this.#redis.map((client) => client.quit().catch(noop)));
        liveRuntimes.delete(this);
        this.refreshes.stop();
        for (const [, cls] of this.registry.entries) {
            unbindStream(cls, this);
        }
    }

    // The streams a page's context can subscribe to: rows with a ModelStream, Stream instances, and
    // every registered stream class that takes no arguments
    #streamsIn(context: object): string[] {

        const names = new Set<string>();
        const visit = (value: unknown, depth: number) => {

            if (value === null || typeof value !== 'object' || depth > 4) {
                return;
            }

            const stream = value instanceof Stream ? value : (instanceOf(value) as { stream?: unknown } | undefined)?.stream;
            if (stream instanceof Stream) {
                names.add(stream.name);
                if (stream === value) {
                    return;
                }
            }

            for (const item of Array.isArray(value) ? value : Object.values(value)) {
                visit(item, depth + 1);
            }
        };

        visit(context, 0);
        for (const [identity, cls] of this.registry.entries) {
            if (cls.length === 0 && !(cls.prototype instanceof ModelStream)) {
                names.add(identity);
            }
        }

        return [...names];
    }
}
