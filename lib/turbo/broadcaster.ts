import { AsyncLocalStorage } from 'node:async_hooks';

import { renderFragments, type FragmentInput, type TemplateRenderer } from './renderer.ts';
import { ReplayLog, type ReplayRecord, type StreamPosition } from './replay.ts';
import { Stream, type StreamRuntime } from './stream.ts';

/** One message on one stream: the rendered <turbo-stream> markup and its place (epoch, seq) in the stream. */
export type BroadcastRecord = ReplayRecord;

export interface BroadcastFailure {
    readonly error: Error;
    readonly streams?: readonly string[];
    readonly model?: string;
    readonly event?: string;
}

/** Delivers records to subscribers: in-process (memory) or over socket.io. */
export interface Transport {
    readonly kind: string;
    publish(record: BroadcastRecord): void;
    /** Called when the server starts (again, after a stop). */
    start?(): void;
    stop(): Promise<void>;
}

export interface BroadcastObserver {
    broadcast?(record: BroadcastRecord): void;
    error?(failure: BroadcastFailure): void;
}

export interface BroadcasterOptions {
    renderTemplate: TemplateRenderer;
    transport: Transport;
    log: (tags: string[], data: object) => void;
    replay: ReplayLog;
}

export interface BroadcastStats {
    /** broadcast() calls that reached their transport */
    broadcasts: number;
    /** render passes: one per broadcast() call whatever the number of streams and subscribers */
    renders: number;
    /** templates rendered inside those passes */
    templates: number;
    /** failed broadcasts and hook errors */
    errors: number;
}


const noop = () => undefined;


/**
 * The pipeline every broadcast takes: render once, give each stream the next `seq`, publish in
 * call order per stream (a slow render never lets a later broadcast overtake it), tell observers.
 */
export class Broadcaster implements StreamRuntime {

    readonly stats: BroadcastStats = { broadcasts: 0, renders: 0, templates: 0, errors: 0 };
    readonly transport: Transport;
    readonly replay: ReplayLog;

    readonly #renderTemplate: TemplateRenderer;
    readonly #log: BroadcasterOptions['log'];
    readonly #tails = new Map<string, Promise<void>>();
    readonly #observers = new Set<BroadcastObserver>();
    readonly #hookScope = new AsyncLocalStorage<Set<Promise<void>>>();

    constructor(options: BroadcasterOptions) {

        this.transport = options.transport;
        this.replay = options.replay;
        this.#log = options.log;
        this.#renderTemplate = async (template, context) => {

            ++this.stats.templates;
            return await options.renderTemplate(template, context);
        };
    }

    /** Where `stream` stands: the epoch of its counter and the seq of its last message (0 before the first). */
    position(stream: string): StreamPosition {

        return this.replay.position(stream);
    }

    observe(observer: BroadcastObserver): () => void {

        this.#observers.add(observer);
        return () => this.#observers.delete(observer);
    }

    /** Renders `fragments` once into one message and publishes it on every stream. */
    broadcast(streams: readonly (Stream | string)[], fragments: readonly FragmentInput[]): Promise<void> {

        const sending = this.#send(streams, fragments);
        const scope = this.#hookScope.getStore();
        if (scope) {
            sending.catch(noop);                                    // runHook reports it
            scope.add(sending);
        }

        return sending;
    }

    async #send(streams: readonly (Stream | string)[], fragments: readonly FragmentInput[]): Promise<void> {

        const names = [...new Set(streams.map((stream) => typeof stream === 'string' ? stream : stream.name))];
        if (!names.length || !fragments.length) {
            throw new TypeError('a broadcast needs at least one stream and one fragment');
        }

        ++this.stats.renders;
        const rendering = renderFragments(fragments, this.#renderTemplate);
        rendering.catch(noop);                                      // Awaited per stream below

        try {
            await Promise.all(names.map((stream) => this.#inOrder(stream, async () => {

                const record = this.replay.append(stream, await rendering);
                this.transport.publish(record);
                for (const observer of this.#observers) {
                    observer.broadcast?.(record);
                }
            })));
        }
        catch (error) {
            this.#fail({ error: error as Error, streams: names });
            throw error;
        }

        ++this.stats.broadcasts;
    }

    // Chains work per stream so publishing follows call order even when renders finish out of order
    #inOrder(stream: string, task: () => Promise<void>): Promise<void> {

        const previous = this.#tails.get(stream) ?? Promise.resolve();
        const current = previous.then(task);
        const tail = current.catch(noop);
        this.#tails.set(stream, tail);
        void tail.then(() => {

            if (this.#tails.get(stream) === tail) {
                this.#tails.delete(stream);
            }
        });

        return current;
    }

    async runHook(body: () => unknown, about: Record<string, string>): Promise<void> {

        const started = new Set<Promise<void>>();
        try {
            await this.#hookScope.run(started, async () => await body());
        }
        catch (error) {
            this.#fail({ error: error as Error, ...about });
        }

        // Broadcasts the hook started without awaiting them still belong to the write; their
        // failures were reported by #send
        await Promise.allSettled(started);
    }

    /** Waits until every broadcast started so far has been published. */
    async drain(): Promise<void> {

        await Promise.all([...this.#tails.values()]);
    }

    #fail(failure: BroadcastFailure): void {

        ++this.stats.errors;
        this.#log(['hapi-turbo', 'error'], { ...failure, message: failure.error?.message });
        for (const observer of this.#observers) {
            observer.error?.(failure);
        }
    }
}
