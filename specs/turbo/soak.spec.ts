import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { io as connect, type Socket } from 'socket.io-client';

import { TurboStream } from '../../lib/turbo/fragment.ts';
import { StreamClient, type StreamMember, type StreamPosition } from '../../static/turbo/stream-client.js';
import { createFixture, type Fixture } from '../support/fixture.ts';

// 100 clients on one stream, 10,000 broadcasts, clients dropped and reconnected at random for up to
// two seconds each. Every client runs the browser element's own protocol logic (stream-client.js).
// In the end each must have applied every seq exactly once and in order, except the ranges a
// refresh covered (a refreshed page shows the state of its new render).

const CLIENTS = 100;
const BROADCASTS = 10_000;
const PER_TICK = 20;                                 // Broadcasts per 10 ms timer tick
const MAX_OFFLINE_MS = 2000;
const STREAM = 'soak';
const REPLAY_SIZE = 1000;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


// A small seeded PRNG so a failing run can be replayed (SOAK_SEED=…)
const prng = function (seed: number) {

    return () => {

        seed = (seed + 0x6D2B79F5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
};


interface Page {
    socket: Socket;
    client: StreamClient;
    member: StreamMember;
    applied: number[];
    refreshedTo: number[];
    /** Per refresh: its reason and how many messages the page had missed. */
    refreshes: { reason: string; missed: number }[];
    failures: string[];
    drops: number;
}


/** A client as a browser page would be: rendered at the stream's position, then subscribed. */
const openPage = function (fixture: Fixture): Page {

    const signed = fixture.server.turbo.sign(STREAM);
    const socket = connect(`http://127.0.0.1:${fixture.server.info.port}/turbo`, { transports: ['websocket'], forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 200 });
    const client = new StreamClient(() => socket as never, { reconnectDelay: () => 50 });
    const page: Page = { socket, client, member: undefined as never, applied: [], refreshedTo: [], refreshes: [], failures: [], drops: 0 };

    const member = (position: StreamPosition): StreamMember => ({
        position,
        receive: (_html, meta) => {

            for (let seq = meta.from; seq <= meta.seq; ++seq) {
                page.applied.push(seq);
            }
        },
        setConnected: () => undefined,
        setFailed: (reason) => page.failures.push(reason),
        refresh: (reason) => {

            // What a reload does: the page is rendered anew at the stream's current position
            const now = fixture.server.turbo.position(STREAM);
            const seen = Math.max(page.applied.at(-1) ?? 0, page.refreshedTo.at(-1) ?? 0, position.seq);
            page.refreshes.push({ reason, missed: now.seq - seen });
            page.refreshedTo.push(now.seq);
            client.remove(signed, page.member);
            page.member = member(now);
            client.add(signed, page.member);
        }
    });

    page.member = member(fixture.server.turbo.position(STREAM));
    client.add(signed, page.member);
    return page;
};


/** Walks 1..last: each seq must be the next one applied, or lie under a later refresh. */
const audit = function (page: Page, last: number): { covered: number; error?: string } {

    let next = 0;
    let covered = 0;
    for (let seq = 1; seq <= last; ++seq) {
        if (page.applied[next] === seq) {
            ++next;
            continue;
        }

        if (!page.refreshedTo.some((ceiling) => ceiling >= seq)) {
            return { covered, error: `seq ${seq} neither applied nor covered by a refresh` };
        }

        ++covered;
    }

    return next === page.applied.length ? { covered } : { covered, error: `applied out of order or twice: ${page.applied.slice(next, next + 5).join(', ')}` };
};


describe('soak', () => {

    let fixture: Fixture;

    before(async () => {

        fixture = await (await createFixture({ replay: { size: REPLAY_SIZE } })).start();
    });

    after(async () => {

        await fixture.close();
    });

    it(`${CLIENTS} clients, ${BROADCASTS} broadcasts, random drops of up to 2 s: every seq once and in order, or covered by a refresh`, { timeout: 180_000 }, async () => {

        const seed = Number(process.env.SOAK_SEED ?? Date.now() % 100_000);
        const random = prng(seed);
        const pages = Array.from({ length: CLIENTS }, () => openPage(fixture));
        const timers = new Set<NodeJS.Timeout>();

        try {
            await Promise.all(pages.map((page) => new Promise((resolve) => page.socket.once('connect', () => resolve(undefined)))));

            // Drops: a client goes away for up to two seconds, by its own hand or the server's
            let dropping = true;
            const dropper = (async () => {

                while (dropping) {
                    await pause(20 + random() * 60);
                    const page = pages[Math.floor(random() * pages.length)]!;
                    if (!page.socket.connected) {
                        continue;
                    }

                    ++page.drops;
                    if (random() < 0.5) {
                        page.socket.disconnect();
                        const timer = setTimeout(() => timers.delete(timer) && page.socket.connect(), random() * MAX_OFFLINE_MS);
                        timers.add(timer);
                    }
                    else {
                        fixture.server.turbo.io!.of('/turbo').sockets.get(page.socket.id!)?.disconnect(true);
                    }
                }
            })();

            for (let first = 1; first <= BROADCASTS; first += PER_TICK) {
                const batch = [];
                for (let n = first; n < first + PER_TICK && n <= BROADCASTS; ++n) {
                    batch.push(fixture.server.turbo.broadcast(STREAM, TurboStream.append({ id: 'log' }, { text: `message ${n}` })));
                }

                await Promise.all(batch);
                await pause(10);
            }

            dropping = false;
            await dropper;
            const last = fixture.server.turbo.position(STREAM).seq;
            assert.equal(last, BROADCASTS);

            // Everybody back online, then wait until every page has caught up
            pages.filter((page) => !page.socket.connected).forEach((page) => page.socket.connect());
            const caughtUp = (page: Page) => Math.max(page.applied.at(-1) ?? 0, page.refreshedTo.at(-1) ?? 0) === last;
            for (const deadline = Date.now() + 60_000; pages.filter(caughtUp).length < CLIENTS && Date.now() < deadline;) {
                await pause(50);
            }

            const totals = { applied: 0, refreshes: 0, covered: 0, drops: 0, failures: 0 };
            for (const [index, page] of pages.entries()) {
                const result = audit(page, last);
                assert.equal(result.error, undefined, `client ${index} (seed ${seed})`);
                assert.equal(caughtUp(page), true, `client ${index} did not catch up (seed ${seed})`);
                // A refresh is only for gaps the replay buffer could not close
                for (const refresh of page.refreshes) {
                    assert.equal(refresh.reason, 'gap', `client ${index}: refresh for ${refresh.reason} (seed ${seed})`);
                    assert.equal(refresh.missed > REPLAY_SIZE, true, `client ${index}: refreshed after missing only ${refresh.missed} (seed ${seed})`);
                }

                totals.applied += page.applied.length;
                totals.refreshes += page.refreshedTo.length;
                totals.covered += result.covered;
                totals.drops += page.drops;
                totals.failures += page.failures.length;
            }

            process.stdout.write(`soak: seed ${seed}; ${CLIENTS} clients x ${BROADCASTS} broadcasts = ${CLIENTS * BROADCASTS} deliveries due; ` +
                `${totals.drops} drops; ${totals.applied} applied exactly once in order; ${totals.refreshes} refreshes covering ${totals.covered}; ` +
                `${totals.failures} subscribe timeouts retried; ${fixture.server.turbo.stats.errors} broadcast errors\n`);
            assert.equal(totals.applied + totals.covered, CLIENTS * BROADCASTS);
        }
        finally {
            timers.forEach((timer) => clearTimeout(timer));
            pages.forEach((page) => {

                page.socket.io.reconnection(false);
                page.socket.disconnect();
            });
        }
    });
});
