import type { BroadcastRecord, Transport } from '../broadcaster.ts';

export type MemoryListener = (record: BroadcastRecord) => void;

const KEEP = 10_000;


/**
 * Delivers to in-process subscribers and keeps the last 10,000 records: for tests, scripts and apps
 * that want broadcasts without sockets.
 */
export class MemoryTransport implements Transport {

    readonly kind = 'memory';
    readonly published: BroadcastRecord[] = [];

    readonly #subscribers = new Map<string, Set<MemoryListener>>();

    subscribe(stream: string, listener: MemoryListener): () => void {

        const listeners = this.#subscribers.get(stream) ?? new Set();
        listeners.add(listener);
        this.#subscribers.set(stream, listeners);
        return () => {

            // The stream's set may have been dropped (emptied, or stop()) and another made since:
            // an unsubscribe called again must leave that one in place
            listeners.delete(listener);
            if (!listeners.size && this.#subscribers.get(stream) === listeners) {
                this.#subscribers.delete(stream);
            }
        };
    }

    publish(records: readonly BroadcastRecord[]): void {

        this.published.push(...records);
        if (this.published.length > KEEP) {
            this.published.splice(0, this.published.length - KEEP);
        }

        for (const record of records) {
            for (const listener of this.#subscribers.get(record.stream) ?? []) {
                listener(record);
            }
        }
    }

    stop(): Promise<void> {

        this.#subscribers.clear();
        return Promise.resolve();
    }
}
