import { AsyncLocalStorage } from 'node:async_hooks';

// Two ways a broadcast can be kept from its transport, both decided when the broadcast is started:
// suppression (scoped to an async call tree, like turbo-rails' suppressing_turbo_broadcasts but
// with AsyncLocalStorage instead of a thread-local, so concurrent work outside the scope still
// broadcasts) and diversion (process-wide, for the test fake of hapi-turbo/testing).

const suppressed = new AsyncLocalStorage<boolean>();


/**
 * Runs `fn`; every broadcast started inside it, directly or from model hooks (after-commit ones too,
 * for writes made inside), sends nothing and schedules no refresh. Work running concurrently outside
 * `fn` broadcasts as usual. For seeding, imports and migrations.
 */
export const suppressingBroadcasts = function <T>(fn: () => T | Promise<T>): Promise<T> {

    return suppressed.run(true, async () => await fn());
};


/** True inside `suppressingBroadcasts()`. */
export const broadcastsSuppressed = function (): boolean {

    return suppressed.getStore() === true;
};


/**
 * Runs `fn` outside any suppression scope: work decided earlier (a debounced refresh scheduled
 * outside the scope) must not be dropped because it happens to be flushed from inside one.
 */
export const unsuppressed = function <T>(fn: () => T): T {

    return suppressed.run(false, fn);
};


/** One rendered broadcast on one stream, as the broadcaster would have sent it. */
export interface DivertedBroadcast {
    stream: string;
    html: string;
}

export type BroadcastDiverter = (broadcast: DivertedBroadcast) => void;

// A stack: the newest fake records, and restoring it gives the stage back to the one below
const diverters: BroadcastDiverter[] = [];


/** Sends every broadcast started from now on to `diverter` instead of its transport; returns the undo. */
export const divertBroadcasts = function (diverter: BroadcastDiverter): () => void {

    diverters.push(diverter);
    return () => {

        const index = diverters.lastIndexOf(diverter);
        if (index !== -1) {
            diverters.splice(index, 1);
        }
    };
};


export const activeDiverter = function (): BroadcastDiverter | undefined {

    return diverters.at(-1);
};
