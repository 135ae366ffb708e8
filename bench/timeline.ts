import { performance } from 'node:perf_hooks';

import { percentile } from './stats.ts';

// Where one message's time goes inside a real-path server (bench/real-server.ts): each POST of the
// send form starts a timeline when hapi sees the request, and points along its path record the time
// since. The sender submits one message at a time (100 ms apart, each done within a few ms), so the
// request being handled is the one the points belong to.

/** The points, in the order a message passes them; the floor has no query. */
export const POINTS = ['handler', 'query', 'queried', 'publish', 'emitted', 'response'] as const;
export type Point = typeof POINTS[number];

/** Medians over the measured messages, ms after the request reached hapi (null: not passed). */
export type Split = Record<Point, number | null>;


export class Timeline {

    #start: number | null = null;
    #recording = false;
    readonly #times = new Map<Point, number[]>();

    /** Records the messages from now on. */
    begin(): void {

        this.#times.clear();
        this.#recording = true;
    }

    /** A message's request reached hapi. */
    request(): void {

        this.#start = performance.now();
    }

    mark(point: Point): void {

        if (!this.#recording || this.#start === null) {
            return;
        }

        const times = this.#times.get(point) ?? [];
        times.push(performance.now() - this.#start);
        this.#times.set(point, times);
    }

    /** Stops recording; the median of each point over the messages after the first `warmup`. */
    end(warmup: number): Split {

        this.#recording = false;
        const split = {} as Split;
        for (const point of POINTS) {
            const times = this.#times.get(point)?.slice(warmup) ?? [];
            const median = percentile(times, 50);
            split[point] = median === null ? null : Math.round(median * 1000) / 1000;
        }

        return split;
    }
}
