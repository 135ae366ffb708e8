import { joinHookScope } from './hook-scope.ts';
import { renderFragments, type FragmentInput, type TemplateRenderer } from './renderer.ts';
import type { ReplayRecord, StreamLog, StreamPosition } from './replay.ts';
import { currentSocketId } from './request-context.ts';
import { nameOf, Stream, type BroadcastOptions } from './stream.ts';
import { activeDiverter, broadcastsSuppressed } from './suppression.ts';

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
    /** Consecutive records of one stream and one epoch, in seq order, to be sent as one frame. */
    publish(records: readonly BroadcastRecord[]): void;
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
    replay: StreamLog;
    /**
     * true (adaptive): a broadcast to an idle stream leaves at once; those that arrive while its
     * previous frame is still being written leave together in the next frame. `{ window }`:
     * broadcasts to one stream within the same event-loop turn (window 0) or within `window` ms
     * leave as one frame. false sends each broadcast on its own.
     */
    batch: boolean | { window: number };
}

/** A stream whose last frame is still being written (adaptive batching). */
interface BusyStream {
    /** Records that arrived meanwhile: the next frame. */
    pending: BroadcastRecord[];
    /** Resolves the broadcasts waiting in `pending` once they are published. */
    published: { promise: Promise<void>; resolve: () => void } | null;
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
    /** frames handed to the transport (fewer than broadcasts when batching combines them) */
    frames: number;
}


const noop = () => undefined;


/**
 * The pipeline every broadcast takes: render once, give each stream the next `seq`, publish in
 * call order per stream (a slow render never lets a later broadcast overtake it), tell observers.
 */
export class Broadcaster {

    readonly stats: BroadcastStats = { broadcasts: 0, renders: 0, templates: 0, errors: 0, frames: 0 };
    readonly transport: Transport;
    readonly replay: StreamLog;

    readonly #renderTemplate: TemplateRenderer;
    readonly #log: BroadcasterOptions['log'];
    readonly #tails = new Map<string, Promise<void>>();
    readonly #observers = new Set<BroadcastObserver>();
    readonly #batch: BroadcasterOptions['batch'];
    #pending = new Map<string, BroadcastRecord[]>();
    #flushed: Promise<void> | null = null;
    readonly #busy = new Map<string, BusyStream>();
    readonly #reported = new WeakSet<object>();

    constructor(options: BroadcasterOptions) {

        this.transport = options.transport;
        this.replay = options.replay;
        this.#batch = options.batch;
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

    /**
     * Renders `fragments` once into one message and publishes it on every stream. With `toOthers`,
     * the page whose request this is (its X-Turbo-Socket-Id) gets an empty placeholder instead.
     */
    broadcast(streams: readonly (Stream | string)[], fragments: readonly FragmentInput[], options: BroadcastOptions = {}): Promise<void> {

        // Read now, in the caller's request context: it is emptied once the response is sent
        const except = options.toOthers ? currentSocketId() : null;
        const sending = this.#send(streams, fragments, except);
        // #send has logged a failure and told the observers: a caller that does not wait for the
        // broadcast (a hook that fires and forgets) must not turn it into an unhandled rejection
        sending.catch(noop);
        joinHookScope(sending);
        return sending;
    }

    async #send(streams: readonly (Stream | string)[], fragments: readonly FragmentInput[], except: string | null): Promise<void> {

        const names = [...new Set(streams.map(nameOf))];
        if (!names.length || !fragments.length) {
            throw new TypeError('a broadcast needs at least one stream and one fragment');
        }

        // Decided when the broadcast starts (suppression.ts): a suppressed one sends nothing, a faked
        // one is rendered and recorded but takes no seq and reaches no transport
        if (broadcastsSuppressed()) {
            return;
        }

        const divert = activeDiverter();
        ++this.stats.renders;
        const rendering = renderFragments(fragments, this.#renderTemplate);
        rendering.catch(noop);                                      // Awaited per stream below

        try {
            // Sequence numbers are taken in call order per stream; sending may wait for the batch
            const sent = await Promise.all(names.map((stream) => this.#inOrder(stream, async () => {

                if (divert) {
                    divert({ stream, html: await rendering });
                    return { sent: undefined };
                }

                const record = await this.replay.append(stream, await rendering, { except });
                this.#tell((observer) => observer.broadcast?.(record));

                return { sent: this.#send1(record) };
            })));

            await Promise.all(sent.map((item) => item.sent));
        }
        catch (error) {
            this.fail({ error: error as Error, streams: names });
            throw error;
        }

        if (!divert) {
            ++this.stats.broadcasts;
        }
    }

    #send1(record: BroadcastRecord): Promise<void> {

        if (!this.#batch) {
            this.#publish([record]);
            return Promise.resolve();
        }

        if (this.#batch === true) {
            return this.#sendAdaptive(record);
        }

        const pending = this.#pending.get(record.stream);
        if (pending) {
            pending.push(record);
        }
        else {
            this.#pending.set(record.stream, [record]);
        }

        this.#flushed ??= new Promise<void>((resolve) => {

            const flush = () => {

                const batches = this.#pending;
                this.#pending = new Map();
                this.#flushed = null;
                for (const records of batches.values()) {
                    this.#publish(records);
                }

                resolve();
            };

            const window = typeof this.#batch === 'object' ? this.#batch.window : 0;
            if (window > 0) {
                setTimeout(flush, window);
            }
            else {
                setImmediate(flush);
            }
        });

        return this.#flushed;
    }

    // Adaptive batching. A stream's frame counts as still being written for as long again as the
    // transport took to write it (its synchronous fan-out: the emit and the kernel writes inside it,
    // measured), counted from when the write returned; under 1 ms, until the check phase
    // (setImmediate) of the turn. Broadcasts to the stream whose records are ready meanwhile leave
    // together when that time is up, as the next frame, whose own write starts the next such time;
    // a stream with nothing waiting is idle again. So a broadcast to an idle stream is published in
    // the turn of its write, with no added latency, and under load the fan-out takes at most about
    // half of the loop while frames grow instead of queueing one emit per broadcast.
    #sendAdaptive(record: BroadcastRecord): Promise<void> {

        const busy = this.#busy.get(record.stream);
        if (!busy) {
            const state: BusyStream = { pending: [], published: null };
            this.#busy.set(record.stream, state);
            this.#hold(record.stream, state, this.#timedPublish([record]));
            return Promise.resolve();
        }

        busy.pending.push(record);
        if (!busy.published) {
            let resolve = noop as () => void;
            const promise = new Promise<void>((done) => {

                resolve = done;
            });
            busy.published = { promise, resolve };
        }

        return busy.published.promise;
    }

    #timedPublish(records: readonly BroadcastRecord[]): number {

        const start = performance.now();
        this.#publish(records);
        return performance.now() - start;
    }

    #hold(stream: string, state: BusyStream, tookMs: number): void {

        const release = () => {

            const { pending, published } = state;
            if (!pending.length) {
                this.#busy.delete(stream);
                return;
            }

            state.pending = [];
            state.published = null;
            let took = 0;
            try {
                took = this.#timedPublish(pending);
            }
            finally {
                published?.resolve();
                this.#hold(stream, state, took);
            }
        };

        if (tookMs < 1) {
            setImmediate(release);
        }
        else {
            setTimeout(release, tookMs);
        }
    }

    // A frame holds one epoch: a counter replaced mid-batch starts a new frame. A message that skips
    // a socket (toOthers) is a frame of its own, so that socket's placeholder carries nothing else.
    #publish(records: readonly BroadcastRecord[]): void {

        let start = 0;
        for (let i = 1; i <= records.length; ++i) {
            if (i === records.length || records[i]!.epoch !== records[start]!.epoch || records[i]!.except || records[i - 1]!.except) {
                ++this.stats.frames;
                this.transport.publish(start === 0 && i === records.length ? records : records.slice(start, i));
                start = i;
            }
        }
    }

    // Chains work per stream so publishing follows call order even when renders finish out of order
    #inOrder<T>(stream: string, task: () => Promise<T>): Promise<T> {

        const previous = this.#tails.get(stream) ?? Promise.resolve();
        const current = previous.then(task);
        const tail = current.then(noop, noop);
        this.#tails.set(stream, tail);
        void tail.then(() => {

            if (this.#tails.get(stream) === tail) {
                this.#tails.delete(stream);
            }
        });

        return current;
    }

    /** Waits until every broadcast started so far has been published. */
    async drain(): Promise<void> {

        await Promise.all([...this.#tails.values()]);
        await this.#flushed;
        await Promise.all([...this.#busy.values()].map((state) => state.published?.promise));
    }

    /** Counts, logs and reports a failed broadcast or hook to the observers. */
    fail(failure: BroadcastFailure): void {

        // A hook that awaited a failed broadcast rethrows the error the broadcast already reported
        const { error } = failure as { error: unknown };
        if (typeof error === 'object' && error !== null) {
            if (this.#reported.has(error)) {
                return;
            }

            this.#reported.add(error);
        }

        ++this.stats.errors;
        this.#log(['hapi-turbo', 'error'], { ...failure, message: failure.error?.message });
        this.#tell((observer) => observer.error?.(failure));
    }

    // Observers are the app's code (server.turbo.observe): one that throws is logged, and neither
    // loses a message that has its seq, nor fails a database write, nor keeps the others from hearing
    #tell(call: (observer: BroadcastObserver) => void): void {

        for (const observer of this.#observers) {
            try {
                call(observer);
            }
            catch (error) {
                this.#log(['hapi-turbo', 'error', 'observer'], { error, message: (error as Error)?.message });
            }
        }
    }
}
