import { AssertionError } from 'node:assert';

import type { BroadcastFailure } from './broadcaster.ts';
import { parseTurboStreams, type ParsedFragment } from './parse.ts';
import { liveTurbos } from './plugin.ts';

export { parseTurboStreams, type ParsedFragment } from './parse.ts';

export interface CapturedBroadcast extends ParsedFragment {
    stream: string;
    seq: number;
}

export type CapturedBroadcasts = CapturedBroadcast[] & { errors: BroadcastFailure[] };


/**
 * Runs `fn` and returns the <turbo-stream> elements broadcast meanwhile by every hapi-turbo server
 * in this process, parsed, in order; only those on `streamables` when given (rows, Streams, names).
 * Broadcasts `fn` started are waited for. Failures (a throwing onSave, a missing template) are in
 * `.errors`.
 */
export const captureBroadcasts = async function (fn: () => unknown, streamables?: unknown): Promise<CapturedBroadcasts> {

    const turbos = [...liveTurbos];
    if (!turbos.length) {
        throw new Error('captureBroadcasts: no hapi-turbo server is registered in this process');
    }

    const captured = [] as unknown as CapturedBroadcasts;
    captured.errors = [];
    const wanted = streamables === undefined ? null : [streamables].flat();
    const stops = turbos.map((turbo) => {

        const names = wanted ? new Set(wanted.map((streamable) => turbo.streamName(streamable))) : null;
        return turbo.observe({
            broadcast: (record) => {

                if (!names || names.has(record.stream)) {
                    captured.push(...parseTurboStreams(record.html).map((fragment) => ({ stream: record.stream, seq: record.seq, ...fragment })));
                }
            },
            error: (failure) => captured.errors.push(failure)
        });
    });

    try {
        await fn();
        await Promise.all(turbos.map((turbo) => turbo.drain()));
    }
    finally {
        stops.forEach((stop) => stop());
    }

    return captured;
};


const describe = (broadcasts: CapturedBroadcast[]) => broadcasts.map((item) => `  ${item.stream} #${item.seq}: ${item.action} ${item.target ?? item.targets ?? ''}`).join('\n');


/** Fails unless `fn` broadcasts exactly `count` <turbo-stream> elements on `streamables`; returns them. */
export const assertBroadcasts = async function (streamables: unknown, count: number, fn: () => unknown): Promise<CapturedBroadcasts> {

    const captured = await captureBroadcasts(fn, streamables);
    if (captured.length !== count) {
        throw new AssertionError({
            message: `expected ${count} Turbo Stream broadcast(s), got ${captured.length}${captured.length ? ':\n' + describe(captured) : ''}` +
                (captured.errors.length ? `\nerrors: ${captured.errors.map((failure) => failure.error.message).join('; ')}` : ''),
            actual: captured.length,
            expected: count,
            operator: 'assertBroadcasts'
        });
    }

    return captured;
};


export const assertNoBroadcasts = async function (streamables: unknown, fn: () => unknown): Promise<void> {

    await assertBroadcasts(streamables, 0, fn);
};
