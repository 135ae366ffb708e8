import type { Model } from 'sequelize';

import { unsuppressed } from './suppression.ts';

// Refresh broadcasts, as turbo-rails' broadcasts_refreshes: a write sends <turbo-stream
// action="refresh" request-id="…"> and every page on the stream re-renders itself (morphing when it
// asks to), except the tab whose request made the write. A burst of writes is coalesced per stream
// and request id, as turbo-rails' debouncer (trailing edge) or turbo-laravel's limiter (leading edge).

export interface RefreshOptions {
    /** The window in ms: a debounced refresh leaves this long after the last write; a throttled one at most once per window. */
    debounce: number;
    /** `'debounce'` (default): trailing edge, the last write wins; `'throttle'`: leading edge, repeats in the window are dropped. */
    mode: 'debounce' | 'throttle';
    /**
     * Debounce: the longest a refresh waits after the first write it covers, however the writes keep
     * coming (without it, a stream written more often than `debounce` would never refresh).
     */
    maxWait: number;
}

export const REFRESH_DEFAULTS: Readonly<RefreshOptions> = Object.freeze({ debounce: 500, mode: 'debounce', maxWait: 5000 });

/**
 * `static broadcastsRefreshes` of a ModelStream: `true` refreshes the row's stream on every save and
 * destroy; a function also refreshes what it returns for the row (rows, Streams, names, a list, or
 * null for nothing more).
 */
export type RefreshTargets = boolean | { bivarianceHack(instance: Model): unknown }['bivarianceHack'];

export type RefreshSender = (stream: string, requestId: string | null) => Promise<void>;

interface Pending {
    stream: string;
    requestId: string | null;
    timer: NodeJS.Timeout;
    /** When the first write it covers asked for it. */
    since: number;
}

const noop = () => undefined;


/** Coalesces refreshes per (stream, request id) and sends them through `send`, the broadcast pipeline. */
export class RefreshScheduler {

    readonly options: Readonly<RefreshOptions>;

    readonly #send: RefreshSender;
    // Debounce: refreshes waiting for their timer. Throttle: the windows still open.
    readonly #pending = new Map<string, Pending>();
    readonly #sending = new Set<Promise<void>>();

    constructor(options: Partial<RefreshOptions>, send: RefreshSender) {

        this.options = { ...REFRESH_DEFAULTS, ...options };
        this.#send = send;
    }

    /** Refreshes waiting to be sent (debounce) or windows open (throttle). */
    get pending(): number {

        return this.#pending.size;
    }

    /** Asks for a refresh of `stream` on behalf of `requestId`; resolves when a throttled one is sent. */
    schedule(stream: string, requestId: string | null): Promise<void> {

        // Per request id, as turbo-rails: two tabs changing one stream each get a refresh the other applies
        const key = JSON.stringify([stream, requestId]);
        const pending = this.#pending.get(key);
        if (this.options.mode === 'throttle') {
            if (pending) {
                return Promise.resolve();
            }

            const timer = setTimeout(() => this.#pending.delete(key), this.options.debounce);
            timer.unref();                                      // Nothing is left to send when it fires
            this.#pending.set(key, { stream, requestId, timer, since: Date.now() });
            return this.#fire(stream, requestId);
        }

        if (pending) {
            // Trailing edge: the window starts again, unless that would take it past maxWait; then
            // the timer keeps its time, which the previous call set no later than maxWait
            if (Date.now() + this.options.debounce <= pending.since + Math.max(this.options.maxWait, this.options.debounce)) {
                pending.timer.refresh();
            }

            return Promise.resolve();
        }

        // Not unref'd: a script that writes and exits still sends its refresh (turbo-rails#731)
        const timer = setTimeout(() => {

            this.#pending.delete(key);
            void this.#fire(stream, requestId);
        }, this.options.debounce);
        this.#pending.set(key, { stream, requestId, timer, since: Date.now() });
        return Promise.resolve();
    }

    /** Sends every debounced refresh now and waits for the refreshes being sent. */
    async flush(): Promise<void> {

        if (this.options.mode === 'debounce') {
            const due = [...this.#pending.values()];
            this.#pending.clear();
            for (const { stream, requestId, timer } of due) {
                clearTimeout(timer);
                void this.#fire(stream, requestId);
            }
        }

        await Promise.all([...this.#sending]);
    }

    /** Forgets the throttle windows (a restarted server starts afresh); call after flush(). */
    stop(): void {

        for (const { timer } of this.#pending.values()) {
            clearTimeout(timer);
        }

        this.#pending.clear();
    }

    #fire(stream: string, requestId: string | null): Promise<void> {

        // Whether to refresh was decided when it was scheduled: flushing from inside a suppressed
        // scope must not drop it. The broadcaster logs failures.
        const sending = unsuppressed(() => this.#send(stream, requestId)).catch(noop);
        this.#sending.add(sending);
        void sending.then(() => this.#sending.delete(sending));
        return sending;
    }
}

