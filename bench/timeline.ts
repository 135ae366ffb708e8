import { performance } from 'node:perf_hooks';

import type { Server } from '@hapi/hapi';
import type { Sequelize } from 'sequelize';

import { percentile } from './stats.ts';

// Where one message's time goes inside a server (bench/real-server.ts, bench/one-message.ts): each
// POST of the send form starts a timeline when hapi sees the request, and points along its path
// record the time since. The sender submits one message at a time (100 ms apart, each done within a
// few ms), so the request being handled is the one the points belong to.

/** The points the bench reports, in the order a message passes them; the floor has no query. */
export const POINTS = ['handler', 'query', 'queried', 'publish', 'emitted', 'response'] as const;

/** Medians over the measured messages, ms after the request reached hapi (null: not passed). */
export type Split = Record<string, number | null>;


export class Timeline {

    #start: number | null = null;
    #recording = false;
    readonly #times = new Map<string, number[]>();

    /** Records the messages from now on. */
    begin(): void {

        this.#times.clear();
        this.#recording = true;
    }

    /** A message's request reached hapi. */
    request(): void {

        this.#start = performance.now();
    }

    mark(point: string): void {

        if (!this.#recording || this.#start === null) {
            return;
        }

        const times = this.#times.get(point) ?? [];
        times.push(performance.now() - this.#start);
        this.#times.set(point, times);
    }

    /** Stops recording; the median of each point over the messages after the first `warmup`, POINTS first. */
    end(warmup: number): Split {

        this.#recording = false;
        const split: Split = {};
        for (const point of new Set([...POINTS, ...this.#times.keys()])) {
            const median = percentile(this.#times.get(point)?.slice(warmup) ?? [], 50);
            split[point] = median === null ? null : Math.round(median * 1000) / 1000;
        }

        return split;
    }
}


/** The points hapi tells: a POST's request (the timeline's start), its handler, its response sent. */
export const followRequests = function (server: Server, timeline: Timeline): void {

    const posted = (request: { method: string }) => request.method === 'post';
    server.ext('onRequest', (request, h) => {

        if (posted(request)) {
            timeline.request();
        }

        return h.continue;
    });
    server.ext('onPreHandler', (request, h) => {

        if (posted(request)) {
            timeline.mark('handler');
        }

        return h.continue;
    });
    server.events.on('response', (request) => {

        if (posted(request)) {
            timeline.mark('response');
        }
    });
};


/** A query sent to the database (`query`) and answered, its result read by Sequelize (`queried`). */
export const followQueries = function (sequelize: Sequelize, timeline: Timeline): void {

    sequelize.addHook('beforeQuery', () => timeline.mark('query'));
    sequelize.addHook('afterQuery', () => timeline.mark('queried'));
};


/**
 * The message reaching the transport (`publish`) and its frame written to every socket (`emitted`),
 * by wrapping the transport's publish, as bench/server.ts does.
 */
export const followTransport = function (transport: unknown, timeline: Timeline): void {

    const target = transport as { publish: (records: unknown) => void };
    const publish = target.publish.bind(target);
    target.publish = (records: unknown) => {

        timeline.mark('publish');
        publish(records);
        timeline.mark('emitted');
    };
};
