import { AssertionError } from 'node:assert';

import type { BroadcastFailure } from './broadcaster.ts';
import { parseTurboStreams, type ParsedFragment } from './parse.ts';
import { TURBO_STREAM_TYPE } from './fragment.ts';
import { liveRuntimes } from './runtime.ts';
import { divertBroadcasts } from './suppression.ts';

export { parseTurboStreams, type ParsedFragment } from './parse.ts';
export { drainBroadcasts } from './drain.ts';

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

    const turbos = [...liveRuntimes];
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


const describe = (broadcasts: CapturedBroadcast[]) => broadcasts.map((item) => `  ${item.stream} #${item.seq}: ${item.action} ${item.target ?? item.targets ?? ''}`.trimEnd()).join('\n');


// The names `streamables` stand for on the live servers, for messages that say which streams were watched
const streamNamesOf = function (streamables: unknown): string[] {

    const turbos = [...liveRuntimes];
    if (!turbos.length) {
        throw new Error('captureBroadcasts: no hapi-turbo server is registered in this process');
    }

    return [...new Set(turbos.flatMap((turbo) => [streamables].flat().map((streamable) => turbo.streamName(streamable))))];
};


/**
 * Fails unless `fn` broadcasts exactly `count` <turbo-stream> elements on `streamables`; returns them.
 * The failure names the streams watched and lists what arrived on them, and on any other stream.
 */
export const assertBroadcasts = async function (streamables: unknown, count: number, fn: () => unknown): Promise<CapturedBroadcasts> {

    const names = streamNamesOf(streamables);
    const everything = await captureBroadcasts(fn);
    const captured = Object.assign(everything.filter((item) => names.includes(item.stream)), { errors: everything.errors });
    if (captured.length !== count) {
        const elsewhere = everything.filter((item) => !names.includes(item.stream));
        throw new AssertionError({
            message: `expected ${count} Turbo Stream broadcast(s) on ${names.map((name) => JSON.stringify(name)).join(', ')}, got ${captured.length}` +
                (captured.length ? ':\n' + describe(captured) : '') +
                (elsewhere.length ? `\nbroadcast on other streams meanwhile:\n${describe(elsewhere)}` : '') +
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


export interface FakedBroadcast extends ParsedFragment {
    stream: string;
}

/** What `fakeBroadcasts()` returns. */
export interface BroadcastFake {
    /** Every <turbo-stream> element broadcast since the fake started (or was cleared), parsed, one entry per stream. */
    readonly broadcasts: FakedBroadcast[];
    /** Fails unless at least one recorded element passes `predicate`; returns those that do. */
    assertBroadcasted(predicate: (broadcast: FakedBroadcast) => boolean): FakedBroadcast[];
    /** Fails unless exactly `times` recorded elements pass `predicate`; returns them. */
    assertBroadcastedTimes(predicate: (broadcast: FakedBroadcast) => boolean, times: number): FakedBroadcast[];
    assertNothingBroadcasted(): void;
    /** Forgets what was recorded so far. */
    clear(): void;
    /** Broadcasts reach their transports again. */
    restore(): void;
}


const describeFaked = (broadcasts: readonly FakedBroadcast[]) => broadcasts.length ?
    ':\n' + broadcasts.map((item) => `  ${item.stream}: ${item.action} ${item.target ?? item.targets ?? ''}`.trimEnd()).join('\n') :
    ' (nothing was broadcast)';


/**
 * Fakes broadcasting, as turbo-laravel's `TurboStream::fake()`: from now until `restore()`, every
 * broadcast of every hapi-turbo server in this process is rendered (so a missing template still
 * fails) and recorded, and none reaches a transport, takes a seq or enters the replay buffer.
 * Debounced refreshes are recorded when they are sent: `await drainBroadcasts()` before asserting.
 */
export const fakeBroadcasts = function (): BroadcastFake {

    let broadcasts: FakedBroadcast[] = [];
    const restore = divertBroadcasts(({ stream, html }) => {

        broadcasts.push(...parseTurboStreams(html).map((fragment) => ({ stream, ...fragment })));
    });

    const fail = (message: string, actual: unknown, expected: unknown, operator: string): never => {

        throw new AssertionError({ message, actual, expected, operator });
    };

    return {
        get broadcasts() {

            return broadcasts;
        },
        assertBroadcasted(predicate) {

            const matching = broadcasts.filter(predicate);
            if (!matching.length) {
                fail(`expected a matching Turbo Stream broadcast, got none among ${broadcasts.length}${describeFaked(broadcasts)}`, 0, '>= 1', 'assertBroadcasted');
            }

            return matching;
        },
        assertBroadcastedTimes(predicate, times) {

            const matching = broadcasts.filter(predicate);
            if (matching.length !== times) {
                fail(`expected ${times} matching Turbo Stream broadcast(s), got ${matching.length}${describeFaked(matching.length ? matching : broadcasts)}`, matching.length, times, 'assertBroadcastedTimes');
            }

            return matching;
        },
        assertNothingBroadcasted() {

            if (broadcasts.length) {
                fail(`expected no Turbo Stream broadcast, got ${broadcasts.length}${describeFaked(broadcasts)}`, broadcasts.length, 0, 'assertNothingBroadcasted');
            }
        },
        clear() {

            broadcasts = [];
        },
        restore
    };
};


/** The parts of a `server.inject()` response the assertion reads. */
export interface StreamResponse {
    statusCode: number;
    headers: Record<string, unknown>;
    payload: string;
}

export interface ExpectedTurboStream {
    action: string;
    /** The status the reply must have: 200 unless given (turbo-rails' `status:`), e.g. 201 or 422. */
    status?: number;
    target?: string;
    targets?: string;
    /** Exactly this many matching elements; at least one when left out. */
    count?: number;
}


/**
 * Checks an HTTP Turbo Stream reply (a `server.inject()` result), as turbo-rails' `assert_turbo_stream`
 * in integration tests: the status (200 unless `status` says otherwise), `text/vnd.turbo-stream.html`,
 * and <turbo-stream> elements with that action (and target or targets). Returns the matching elements, parsed.
 */
export const assertTurboStreamResponse = function (res: StreamResponse, expected: ExpectedTurboStream): ParsedFragment[] {

    const status = expected.status ?? 200;
    if (res.statusCode !== status) {
        throw new AssertionError({ message: `expected a Turbo Stream reply with status ${status}, got ${res.statusCode}: ${res.payload.slice(0, 200)}`, actual: res.statusCode, expected: status, operator: 'assertTurboStreamResponse' });
    }

    const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (type !== TURBO_STREAM_TYPE) {
        throw new AssertionError({ message: `expected Content-Type ${TURBO_STREAM_TYPE}, got ${type || 'none'}`, actual: type, expected: TURBO_STREAM_TYPE, operator: 'assertTurboStreamResponse' });
    }

    const elements = parseTurboStreams(res.payload);
    const matching = elements.filter((element) => element.action === expected.action &&
        (expected.target === undefined || element.target === expected.target) &&
        (expected.targets === undefined || element.targets === expected.targets));
    if (expected.count === undefined ? !matching.length : matching.length !== expected.count) {
        const wanted = `${expected.action}${expected.target !== undefined ? ` target="${expected.target}"` : ''}${expected.targets !== undefined ? ` targets="${expected.targets}"` : ''}`;
        const seen = elements.map((element) => `  ${element.action} ${element.target ?? element.targets ?? ''}`.trimEnd()).join('\n');
        throw new AssertionError({
            message: `expected ${expected.count ?? 'at least 1'} <turbo-stream ${wanted}>, got ${matching.length}; the reply holds ${elements.length}${seen ? ':\n' + seen : ''}`,
            actual: matching.length,
            expected: expected.count ?? '>= 1',
            operator: 'assertTurboStreamResponse'
        });
    }

    return matching;
};
