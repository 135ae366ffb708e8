import assert from 'node:assert/strict';
import { createHmac, randomInt } from 'node:crypto';
import { get } from 'node:http';
import { afterEach, describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';

import type { Socket } from 'socket.io-client';
import WebSocket from 'ws';

import { Stream, TurboStream } from '../../lib/turbo/index.ts';
import { MAX_SIGNED_NAME, signStreamName } from '../../lib/turbo/signing.ts';
import { collect, createFixture, eventually, SECRET, type Fixture, type FixtureOptions } from '../support/fixture.ts';
import { FRAME_LIMIT, fuzzFrames, OTHER_KEY, prng, randomBuffer, type Frame, type SignedNames } from '../support/fuzz.ts';

// Hostile clients against the socket.io transport: garbage frames, forged names, revoked users,
// foreign origins, abuse of the per-socket limits and clients that stop reading.

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const ANSWERS = ['ok', 'bad-request', 'invalid-signature', 'forbidden', 'rate-limited', 'too-many-subscriptions'];


/** Heap and buffers (ws queues Buffers outside the heap) after full collections. */
const memory = async function (): Promise<number> {

    for (let i = 0; i < 3; ++i) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
    }

    const { heapUsed, external } = process.memoryUsage();
    return heapUsed + external;
};


const MB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;


/**
 * A bare engine.io/socket.io client on /turbo over WebSocket, as an attacker would write one: it
 * connects to the namespace, then `send` writes subscribe frames and `stopReading` pauses its TCP
 * socket, so whatever the server sends it stays queued on the server's side.
 */
const rawClient = function (port: number): Promise<{ ws: WebSocket; send: (event: string, payload: object) => void; stopReading: () => void }> {

    return new Promise((resolve, reject) => {

        const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
        let ackId = 0;
        ws.once('error', reject);
        ws.on('message', (data) => {

            const text = String(data);
            if (text.startsWith('0{')) {
                ws.send('40/turbo,');                                       // engine.io open: join the namespace
            }
            else if (text.startsWith('40/turbo,')) {
                resolve({
                    ws,
                    send: (event, payload) => ws.send(`42/turbo,${++ackId}${JSON.stringify([event, payload])}`),
                    stopReading: () => ws.pause()
                });
            }
            else if (text === '2') {
                ws.send('3');                                               // ping, pong
            }
        });
    });
};


/** The first word of an ack: 'ok' or its error. */
const outcome = function (answer: { ok?: boolean; error?: string }): string {

    return answer.ok === true ? 'ok' : String(answer.error);
};


/** The reason the socket was disconnected for, or 'still connected' after `ms`. */
const disconnected = function (socket: Socket, ms = 5000): Promise<string> {

    return new Promise((resolve) => {

        setTimeout(() => resolve('still connected'), ms).unref();
        socket.once('disconnect', (reason) => resolve(reason));
    });
};


// Built outside send(): a closure made there would keep the frame (up to 16 KB) alive as long as
// socket.io-client keeps the callback, which for unknown events is forever
const counter = (tally: { count: number }) => () => ++tally.count;


/** Sends a frame; resolves with the answer's outcome, 'no-answer' after the timeout, or null when no ack was asked. */
const send = function (socket: Socket, frame: Frame, unknownAnswers: { count: number }): Promise<string | null> {

    if (!frame.ack) {
        socket.emit(frame.event, ...frame.args);
        return Promise.resolve(null);
    }

    if (frame.expect === 'ignored') {
        // Never answered: a timeout here would only make the test slow; answers are counted instead
        socket.emit(frame.event, ...frame.args, counter(unknownAnswers));
        return Promise.resolve(null);
    }

    return new Promise((resolve) => {

        socket.timeout(10_000).emit(frame.event, ...frame.args, (error: Error | null, answer: { ok?: boolean; error?: string }) => resolve(error ? 'no-answer' : outcome(answer)));
    });
};


describe('hostile socket.io clients', () => {

    const fixtures: Fixture[] = [];

    const open = async function (options: FixtureOptions = {}): Promise<Fixture> {

        const fixture = await createFixture(options);
        fixtures.push(fixture);
        return await fixture.start();
    };

    afterEach(async () => {

        await Promise.all(fixtures.splice(0).map((fixture) => fixture.close()));
    });

    describe('fuzzing', () => {

        const signedNames = function (): SignedNames {

            return {
                valid: Array.from({ length: 10 }, (_, i) => signStreamName(`fuzz/${i}`, SECRET)),
                forbidden: ['blog:NoticeStream', 'blog:NoticeStream[1,"x"]', 'blog:RemovedStream', 'blog:TopicStream[{}]'].map((name) => signStreamName(name, SECRET))
            };
        };

        it('answers 10,000 hostile frames with the documented errors, keeps every socket and its memory', async (t) => {

            const seed = Number(process.env.HOSTILE_SEED ?? randomInt(2 ** 31));
            t.diagnostic(`fuzz seed ${seed} (HOSTILE_SEED=${seed} replays it)`);
            const rng = prng(seed);
            const names = signedNames();

            const fixture = await open({ limits: { maxFrameBytes: FRAME_LIMIT, subscribeBurst: 100_000, subscribePerSecond: 100_000 } });
            const sockets = await Promise.all(Array.from({ length: 4 }, () => fixture.client()));
            const oversized = await Promise.all(Array.from({ length: 3 }, () => fixture.client()));
            const unknownAnswers = { count: 0 };
            const counts = { frames: 0, withAck: 0, events: {} as Record<string, number>, answers: {} as Record<string, number> };
            const mismatches: string[] = [];

            const run = async function (total: number, batch: number) {

                for (let sent = 0; sent < total; sent += batch * sockets.length) {
                    const pending: Promise<void>[] = [];
                    for (const socket of sockets) {
                        for (const frame of fuzzFrames(rng, names, batch)) {
                            ++counts.frames;
                            const key = frame.event === 'subscribe' || frame.event === 'unsubscribe' ? frame.event : 'unknown';
                            counts.events[key] = (counts.events[key] ?? 0) + 1;
                            counts.withAck += frame.ack ? 1 : 0;
                            const kind = frame.kind;
                            const expect = frame.expect;
                            const event = frame.event;
                            pending.push(send(socket, frame, unknownAnswers).then((answer) => {

                                if (answer !== null) {
                                    counts.answers[answer] = (counts.answers[answer] ?? 0) + 1;
                                    if (answer !== expect) {
                                        mismatches.push(`${event} (${kind}): expected ${expect}, got ${answer}`);
                                    }
                                }
                            }));
                        }
                    }

                    await Promise.all(pending);
                }
            };

            // Warm up (code paths, socket.io's buffers), then measure from there
            await run(400, 25);
            const warmUp = { ...counts };
            counts.frames = 0;
            counts.withAck = 0;
            counts.events = {};
            counts.answers = {};
            const before = await memory();

            await run(5_000, 50);

            // Halfway, three sockets send a frame above the limit: only they are closed
            const closed = oversized.map((socket) => disconnected(socket));
            oversized[0]!.emit('subscribe', { signedStreamName: 'x'.repeat(FRAME_LIMIT) }, () => undefined);
            oversized[1]!.emit('subscribe', { signedStreamName: randomBuffer(rng, FRAME_LIMIT + 1) }, () => undefined);
            oversized[2]!.emit('subscribe', ...Array.from({ length: 64 }, () => 'y'.repeat(FRAME_LIMIT / 32)));
            assert.deepEqual(await Promise.all(closed), ['transport close', 'transport close', 'transport close']);

            await run(5_000, 50);
            const after = await memory();

            t.diagnostic(`warm-up ${warmUp.frames} frames; fuzz ${counts.frames} frames (${counts.withAck} asking for an ack): ${JSON.stringify(counts.events)}`);
            t.diagnostic(`answers ${JSON.stringify(counts.answers)}; answers to unknown events ${unknownAnswers.count}`);
            t.diagnostic(`heap + buffers ${MB(before)} before, ${MB(after)} after (${MB(after - before)} growth)`);

            assert.equal(counts.frames, 10_000);
            assert.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} unexpected answers (seed ${seed})`);
            assert.deepEqual(Object.keys(counts.answers).filter((answer) => !ANSWERS.includes(answer)), []);
            assert.equal(unknownAnswers.count, 0);
            assert.equal(counts.answers['bad-request']! > 1000, true, 'the fuzz reaches every check');
            assert.equal(counts.answers['invalid-signature']! > 1000, true);
            assert.equal(counts.answers.forbidden! > 50, true);
            assert.equal(counts.answers.ok! > 100, true);

            assert.deepEqual(sockets.map((socket) => socket.connected), [true, true, true, true]);
            assert.deepEqual(oversized.map((socket) => socket.connected), [false, false, false]);
            await eventually(() => assert.equal(fixture.server.turbo.io!.of('/turbo').sockets.size, sockets.length));
            assert.equal(after - before < 8 * 1024 * 1024, true, `memory grew by ${MB(after - before)} (seed ${seed})`);

            // A valid subscription still works, on a fuzzed socket and on a new one
            const fresh = await fixture.client();
            const inboxes = [collect(sockets[0]!), collect(fresh)];
            const signed = signStreamName('after/fuzz', SECRET);
            assert.deepEqual(await fixture.subscribe(sockets[0]!, signed), { ok: true, stream: 'after/fuzz' });
            assert.deepEqual(await fixture.subscribe(fresh, signed), { ok: true, stream: 'after/fuzz' });
            await fixture.server.turbo.broadcast('after/fuzz', TurboStream.update({ id: 'box' }, { text: 'still here' }));
            await eventually(() => assert.deepEqual(inboxes.map((inbox) => inbox.map((item) => item.stream)), [['after/fuzz'], ['after/fuzz']]));
        });

        it('rate-limits the same kind of frames under a small burst, whatever they hold', async (t) => {

            const seed = Number(process.env.HOSTILE_SEED ?? randomInt(2 ** 31));
            t.diagnostic(`fuzz seed ${seed}`);
            const rng = prng(seed);
            const names = signedNames();

            // One token per 10 s: nothing refills while the test runs
            const fixture = await open({ limits: { subscribeBurst: 50, subscribePerSecond: 0.1 } });
            const socket = await fixture.client();
            const frames = [...fuzzFrames(rng, names, 300)];
            const answers = await Promise.all(frames.map((frame) => send(socket, frame, { count: 0 })));

            // Subscribe and unsubscribe frames take a token each, answered or not; unknown events none
            let tokens = 50;
            const expected = frames.map((frame) => {

                if (frame.expect === 'ignored') {
                    return null;
                }

                const allowed = tokens-- > 0;
                return frame.ack ? allowed ? frame.expect : 'rate-limited' : null;
            });

            assert.deepEqual(answers, expected, `seed ${seed}`);
            const limited = answers.filter((answer) => answer === 'rate-limited').length;
            t.diagnostic(`${frames.length} frames, ${limited} answered rate-limited`);
            assert.equal(limited > 100, true);
            assert.equal(socket.connected, true);
        });
    });

    it('refuses forged, tampered, wrong-key and rotated-out names, and accepts every key still configured', async () => {

        const newKey = 'the-new-key-of-this-server-32-bytes-long';
        const oldKey = 'the-old-key-of-this-server-32-bytes-long';
        const rotating = await open({ secret: [newKey, oldKey] });
        const socket = await rotating.client();
        const topic = await rotating.Topic.create({ title: 'News' });
        const name = topic.stream.name;

        // New names are signed with the first key
        assert.equal(rotating.server.turbo.signedStreamName(topic), signStreamName(name, newKey));
        assert.deepEqual(await rotating.subscribe(socket, signStreamName(name, newKey)), { ok: true, stream: name });
        assert.deepEqual(await rotating.subscribe(socket, signStreamName(name, oldKey)), { ok: true, stream: name });

        const valid = signStreamName(name, oldKey);
        const otherPayload = Buffer.from(JSON.stringify(`blog:TopicStream[${topic.id + 1}]`)).toString('base64');
        for (const forged of [
            signStreamName(name, OTHER_KEY),
            signStreamName(name, SECRET),
            `${otherPayload}${valid.slice(valid.indexOf('--'))}`,                       // Another name under this signature
            valid.slice(0, -1),                                                         // Truncated
            valid.slice(0, -1) + (valid.endsWith('0') ? '1' : '0'),                     // One character changed
            valid.slice(0, valid.indexOf('--') + 2) + createHmac('sha256', oldKey).update('other').digest('hex')
        ]) {
            assert.deepEqual(await rotating.subscribe(socket, forged), { ok: false, error: 'invalid-signature' }, forged);
        }

        // Once the old key is dropped, names it signed are refused
        const rotated = await open({ secret: [newKey] });
        const client = await rotated.client();
        assert.deepEqual(await rotated.subscribe(client, signStreamName(name, oldKey)), { ok: false, error: 'invalid-signature' });
        assert.deepEqual(await rotated.subscribe(client, signStreamName(name, newKey)), { ok: true, stream: name });
    });

    it('asks userPassesTest again on every subscribe: revoked users are refused on a new socket and on the same one', async () => {

        const allowed = new Set<string>();
        class GuardedStream extends Stream {
            override userPassesTest(user: unknown) {

                return allowed.has((user as { name?: string } | null)?.name ?? '');
            }
        }

        const fixture = await createFixture({ streams: { hostile: [GuardedStream] } });
        fixtures.push(fixture);
        fixture.server.auth.scheme('bearer', () => ({
            authenticate: (request, h) => {

                const token = /^Bearer (\w+)$/.exec(String(request.headers.authorization ?? ''))?.[1];
                return token ? h.authenticated({ credentials: { name: token } }) : h.unauthenticated(new Error('no token'));
            }
        }));
        fixture.server.auth.strategy('bearer', 'bearer');
        fixture.server.auth.default('bearer');
        await fixture.start();

        const stream = new GuardedStream('ops');
        const signed = fixture.server.turbo.signedStreamName(stream);
        const as = (name: string) => fixture.client({ headers: { authorization: `Bearer ${name}` } });
        allowed.add('alice').add('carol');

        const alice = await as('alice');
        const carol = await as('carol');
        const [aliceInbox, carolInbox] = [collect(alice), collect(carol)];
        assert.deepEqual(await fixture.subscribe(alice, signed), { ok: true, stream: stream.name });
        assert.deepEqual(await fixture.subscribe(carol, signed), { ok: true, stream: stream.name });
        assert.deepEqual(await fixture.subscribe(await as('mallory'), signed), { ok: false, error: 'forbidden' });
        await fixture.server.turbo.broadcast(stream, TurboStream.update({ id: 'ops' }, { text: 'one' }));
        await eventually(() => assert.deepEqual([aliceInbox.length, carolInbox.length], [1, 1]));

        allowed.delete('alice');
        assert.deepEqual(await fixture.subscribe(alice, signed), { ok: false, error: 'forbidden' });

        // Refused means refused: the socket no longer gets the stream it was in before
        await fixture.server.turbo.broadcast(stream, TurboStream.update({ id: 'ops' }, { text: 'two' }));
        await eventually(() => assert.equal(carolInbox.length, 2));
        await fixture.subscribe(alice, 'a round trip');                               // Anything sent before it has arrived
        assert.equal(aliceInbox.length, 1);

        // Reconnecting (a new socket, the same credentials) does not bring access back
        alice.disconnect();
        const again = await as('alice');
        assert.deepEqual(await fixture.subscribe(again, signed), { ok: false, error: 'forbidden' });

        allowed.add('alice');
        assert.deepEqual(await fixture.subscribe(again, signed), { ok: true, stream: stream.name });
    });

    describe('origin check', () => {

        /** The status of an engine.io polling handshake: the check covers both transports. */
        const pollingHandshake = function (fixture: Fixture, origin?: string): Promise<number> {

            return new Promise((resolve, reject) => {

                const headers = origin ? { origin } : {};
                get({ host: '127.0.0.1', port: fixture.server.info.port, path: '/socket.io/?EIO=4&transport=polling', headers }, (res) => {

                    res.resume();
                    resolve(res.statusCode!);
                }).on('error', reject);
            });
        };

        it('by default lets in the server\'s own origin and clients without one, and refuses every other origin', async () => {

            const fixture = await open();
            const port = Number(fixture.server.info.port);
            await fixture.client({ headers: { origin: `http://127.0.0.1:${port}` } });
            await fixture.client();
            // An origin is scheme, host and port: the same host over https is another site
            for (const origin of ['http://evil.example', `http://127.0.0.1:${port + 1}`, `http://127.0.0.1.evil.example:${port}`, `https://127.0.0.1:${port}`, `ws://127.0.0.1:${port}`, `https://localhost:${port}`, 'null', 'not a url']) {
                await assert.rejects(fixture.client({ headers: { origin } }), /websocket error/, origin);
            }

            assert.equal(await pollingHandshake(fixture, 'http://evil.example'), 403);
            assert.equal(await pollingHandshake(fixture, `https://127.0.0.1:${port}`), 403);
            assert.equal(await pollingHandshake(fixture, `http://127.0.0.1:${port}`), 200);
            assert.equal(await pollingHandshake(fixture), 200);
            assert.equal(fixture.server.turbo.io!.of('/turbo').sockets.size, 2);
        });

        it('behind a proxy that terminates TLS, takes the scheme from X-Forwarded-Proto', async () => {

            const fixture = await open();
            const port = Number(fixture.server.info.port);
            await fixture.client({ headers: { origin: `https://127.0.0.1:${port}`, 'x-forwarded-proto': 'https' } });
            await assert.rejects(fixture.client({ headers: { origin: `http://127.0.0.1:${port}`, 'x-forwarded-proto': 'https' } }), /websocket error/);
            await assert.rejects(fixture.client({ headers: { origin: 'https://evil.example', 'x-forwarded-proto': 'https' } }), /websocket error/);
        });

        it('with a list of origins, accepts exactly those', async () => {

            const fixture = await open({ origins: ['http://allowed.example'] });
            const port = Number(fixture.server.info.port);
            const socket = await fixture.client({ headers: { origin: 'http://allowed.example' } });
            assert.deepEqual(await fixture.subscribe(socket, signStreamName('listed', SECRET)), { ok: true, stream: 'listed' });
            for (const origin of ['http://evil.example', 'https://allowed.example', 'http://allowed.example:8080', 'http://sub.allowed.example', `http://127.0.0.1:${port}`]) {
                await assert.rejects(fixture.client({ headers: { origin } }), /websocket error/, origin);
            }

            assert.equal(await pollingHandshake(fixture, 'http://evil.example'), 403);
            assert.equal(await pollingHandshake(fixture, 'http://allowed.example'), 200);
        });
    });

    describe('exceptions never leave a handler', () => {

        /** Log entries tagged hapi-turbo and `tag`. */
        const logged = function (fixture: Fixture, tag: string) {

            const entries: { tags: string[]; data: { message?: string; event?: string } }[] = [];
            fixture.server.events.on('log', (event, tags) => {

                if (tags['hapi-turbo'] && tags[tag]) {
                    entries.push({ tags: event.tags, data: event.data as { message?: string } });
                }
            });
            return entries;
        };

        it('answers a signature of 64 characters that is not 64 bytes with invalid-signature, on both events and both transports', async () => {

            const fixture = await open();
            const errors = logged(fixture, 'error');
            const refusals = logged(fixture, 'debug');
            const valid = signStreamName('wide', SECRET);
            const payload = valid.slice(0, valid.indexOf('--'));
            const forgeries = [
                `YQ==--${'é'.repeat(64)}`,                                  // The attack as found
                `${payload}--${'€'.repeat(64)}`,
                `${payload}--${'😀'.repeat(32)}`,                          // 64 UTF-16 units, 128 bytes
                `${payload}--${'\ud800'.repeat(64)}`,                      // Lone surrogates
                `${payload}--${valid.slice(-64, -1)}é`,                    // One character off, one byte more
                `${payload}--${valid.slice(-64, -1)}\udfff`
            ];

            for (const transports of [['websocket'], ['polling']] as const) {
                const socket = await fixture.client({ transports: [...transports] });
                assert.equal(socket.io.engine.transport.name, transports[0]);
                for (const forged of forgeries) {
                    for (const event of ['subscribe', 'unsubscribe']) {
                        socket.emit(event, { signedStreamName: forged });                        // Without an ack too
                        assert.deepEqual(await socket.timeout(5000).emitWithAck(event, { signedStreamName: forged }), { ok: false, error: 'invalid-signature' }, `${transports[0]} ${event} ${JSON.stringify(forged)}`);
                    }
                }

                assert.equal(socket.connected, true);
                assert.deepEqual(await fixture.subscribe(socket, valid), { ok: true, stream: 'wide' });
            }

            assert.deepEqual(errors, []);
            assert.equal((await fixture.server.inject('/_turbo/hapi-turbo.js')).statusCode, 200);

            // Refusals are logged at debug level with their reason, and the stream when the signature holds
            const socket = await fixture.client();
            assert.deepEqual(await fixture.subscribe(socket, signStreamName('blog:NoticeStream', SECRET)), { ok: false, error: 'forbidden' });
            await eventually(() => assert.equal(refusals.some((entry) => entry.data.message === 'subscription refused (forbidden): blog:NoticeStream'), true));
            assert.equal(refusals.filter((entry) => entry.data.message === 'subscription refused (invalid-signature)').length, forgeries.length * 4, 'each subscribe, with and without an ack, on both transports');
        });

        it('answers server-error, logs it with hapi-turbo and error, and keeps the socket, when a handler fails', async () => {

            const fixture = await open();
            const errors = logged(fixture, 'error');
            const socket = await fixture.client();
            const bystander = await fixture.client();
            const signed = signStreamName('fragile', SECRET);

            // The room adapter fails (as a shared one can while its store is away): synchronously on
            // join, asynchronously on leave
            const adapter = fixture.server.turbo.io!.of('/turbo').adapter;
            const { addAll, del } = adapter;
            adapter.addAll = () => {

                throw new Error('adapter down (join)');
            };
            socket.emit('subscribe', { signedStreamName: signed });                           // No ack to answer: logged only
            assert.deepEqual(await socket.timeout(5000).emitWithAck('subscribe', { signedStreamName: signed }), { ok: false, error: 'server-error' });
            adapter.addAll = addAll;
            assert.deepEqual(await fixture.subscribe(socket, signed), { ok: true, stream: 'fragile' });

            adapter.del = () => Promise.reject(new Error('adapter down (leave)'));
            assert.deepEqual(await socket.timeout(5000).emitWithAck('unsubscribe', { signedStreamName: signed }), { ok: false, error: 'server-error' });
            adapter.del = del;
            assert.deepEqual(await socket.timeout(5000).emitWithAck('unsubscribe', { signedStreamName: signed }), { ok: true, stream: 'fragile' });

            await eventually(() => assert.equal(errors.length, 3));
            assert.deepEqual(errors.map((entry) => [entry.data.event, entry.data.message]), [
                ['subscribe', 'adapter down (join)'],
                ['subscribe', 'adapter down (join)'],
                ['unsubscribe', 'adapter down (leave)']
            ]);
            assert.deepEqual([socket.connected, bystander.connected], [true, true]);
            assert.deepEqual(await fixture.subscribe(bystander, signed), { ok: true, stream: 'fragile' });
        });
    });

    describe('limits', () => {

        it('refuses more than maxSubscriptions streams on a socket, but not a stream it is already in', async () => {

            const fixture = await open({ limits: { maxSubscriptions: 3 } });
            const socket = await fixture.client();
            const names = ['a', 'b', 'c', 'd'].map((name) => signStreamName(`limit/${name}`, SECRET));
            for (const signed of names.slice(0, 3)) {
                assert.equal((await fixture.subscribe(socket, signed)).ok, true);
            }

            assert.deepEqual(await fixture.subscribe(socket, names[3]), { ok: false, error: 'too-many-subscriptions' });
            assert.deepEqual(await fixture.subscribe(socket, names[0]), { ok: true, stream: 'limit/a' });
            // Refused subscriptions take no place
            assert.deepEqual(await fixture.subscribe(socket, signStreamName('blog:NoticeStream', SECRET)), { ok: false, error: 'forbidden' });

            // Leaving one makes room; another socket has its own count
            assert.equal((await socket.timeout(2000).emitWithAck('unsubscribe', { signedStreamName: names[1] })).ok, true);
            assert.deepEqual(await fixture.subscribe(socket, names[3]), { ok: true, stream: 'limit/d' });
            assert.deepEqual(await fixture.subscribe(socket, names[1]), { ok: false, error: 'too-many-subscriptions' });
            const other = await fixture.client();
            for (const signed of names.slice(0, 3)) {
                assert.equal((await fixture.subscribe(other, signed)).ok, true);
            }
        });

        it('answers frames beyond the burst with rate-limited, per socket, and lets them through again at the steady rate', async () => {

            const fixture = await open({ limits: { subscribeBurst: 5, subscribePerSecond: 20 } });
            const socket = await fixture.client();
            const signed = signStreamName('burst', SECRET);
            const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => socket.timeout(2000).emitWithAck(i % 2 ? 'unsubscribe' : 'subscribe', { signedStreamName: signed })));
            assert.deepEqual(answers.slice(0, 5).map(outcome), ['ok', 'ok', 'ok', 'ok', 'ok']);
            assert.equal(answers.slice(5).filter((answer) => outcome(answer) === 'rate-limited').length >= 5, true, JSON.stringify(answers));
            assert.equal(socket.connected, true);

            // Another socket has a bucket of its own
            const other = await fixture.client();
            assert.deepEqual(await fixture.subscribe(other, signed), { ok: true, stream: 'burst' });

            // Tokens come back (20 a second); a refused frame costs none
            let answer = { ok: false, error: 'rate-limited' } as { ok: boolean; error?: string };
            for (let tries = 0; answer.error === 'rate-limited' && tries < 100; ++tries) {
                await new Promise((resolve) => setTimeout(resolve, 20));
                answer = await fixture.subscribe(socket, signed);
            }

            assert.deepEqual(answer, { ok: true, stream: 'burst' });
        });

        it('closes the socket that sends a frame above maxFrameBytes, and only that one', async () => {

            const limit = 4096;
            const fixture = await open({ limits: { maxFrameBytes: limit } });
            const [small, big, binary, bystander] = await Promise.all([fixture.client(), fixture.client(), fixture.client(), fixture.client()]);
            const inbox = collect(bystander);
            assert.deepEqual(await fixture.subscribe(bystander, signStreamName('calm', SECRET)), { ok: true, stream: 'calm' });

            // Just under the limit is answered
            assert.deepEqual(await fixture.subscribe(small, 'x'.repeat(MAX_SIGNED_NAME - 100)), { ok: false, error: 'invalid-signature' });

            const closed = [disconnected(big), disconnected(binary)];
            big.emit('subscribe', { signedStreamName: 'x'.repeat(limit) }, () => undefined);
            binary.emit('subscribe', { signedStreamName: Buffer.alloc(limit + 1) }, () => undefined);
            assert.deepEqual(await Promise.all(closed), ['transport close', 'transport close']);

            await eventually(() => assert.equal(fixture.server.turbo.io!.of('/turbo').sockets.size, 2));
            assert.equal(small.connected, true);
            await fixture.server.turbo.broadcast('calm', TurboStream.update({ id: 'box' }, { text: 'fine' }));
            await eventually(() => assert.equal(inbox.length, 1));
        });

        it('closes only the socket that sends a malformed socket.io packet', async () => {

            const fixture = await open();
            const bystander = await fixture.client();
            // A reserved event name, a payload that is not an array, broken JSON, an unknown packet type
            for (const packet of ['2/turbo,["disconnect"]', '2/turbo,{"not":"an array"}', '2/turbo,["subscribe"', '9/turbo,[]']) {
                const socket = await fixture.client();
                const closed = disconnected(socket);
                socket.io.engine.write(packet);
                assert.equal(await closed, 'transport close', packet);
            }

            // A numeric event name is an unknown event, an ack for an id the server never used is dropped
            const odd = await fixture.client();
            odd.io.engine.write('2/turbo,[42,{"signedStreamName":"x"}]');
            odd.io.engine.write('3/turbo,999["forged answer"]');
            assert.deepEqual(await fixture.subscribe(odd, 'round trip'), { ok: false, error: 'invalid-signature' });
            assert.equal(odd.connected, true);
            assert.equal(bystander.connected, true);
            assert.deepEqual(await fixture.subscribe(bystander, signStreamName('alive', SECRET)), { ok: true, stream: 'alive' });
        });
    });

    it('keeps memory bounded when 300 sockets that stopped reading ask for 50 replays of ~400 KB each, and a reading client still gets every message', async (t) => {

        // The attack as found: 300 bare WebSockets each send 50 subscribes `since` seq 0 on a room of
        // 200 messages of 255 quotes (each ~2 KB once escaped), then stop reading. Half of them here
        // spread their 50 over ten such rooms, which also asks for more than one socket may queue.
        // Default limits: the bound tested is the one documented.
        const SOCKETS = 300;
        const FRAMES = 50;
        const ROOMS = 10;
        const MESSAGES = 200;
        const LIVE = 100;
        const fixture = await open();
        const port = Number(fixture.server.info.port);
        const transport = fixture.server.turbo.transport as unknown as { slowDisconnects: number; replaysRefused: number };
        const namespace = fixture.server.turbo.io!.of('/turbo');
        const signed = Array.from({ length: ROOMS }, (_, i) => signStreamName(`flood/${i}`, SECRET));
        const quotes = '"'.repeat(255);
        for (let i = 1; i <= MESSAGES; ++i) {
            for (let room = 0; room < ROOMS; ++room) {
                await fixture.server.turbo.broadcast(`flood/${room}`, TurboStream.append({ id: 'messages' }, { html: `<div id="message-${i}" class="message"><p>${quotes.replaceAll('"', '&quot;')}</p><small>${'&quot;'.repeat(60)}</small></div>` }));
            }
        }

        const { epoch } = fixture.server.turbo.position('flood/0');
        const replayBytes = await new Promise<number>((resolve) => {

            // What one full replay weighs on the wire, as a socket.io client receives it
            void fixture.client().then(async (probe) => {

                probe.on('turbo-stream', (html: string[]) => {

                    resolve(Buffer.byteLength(JSON.stringify(html)));
                    probe.disconnect();
                });
                await fixture.subscribe(probe, signed[0], { epoch, seq: 0 });
            });
        });

        // The reading client: on the attacked room, from where it stands
        const reader = await fixture.client();
        const inbox = collect(reader);
        assert.deepEqual(await fixture.subscribe(reader, signed[0], { epoch, seq: MESSAGES }), { ok: true, stream: 'flood/0' });

        // Every frame the server takes in, per socket, to know when it has read them all
        const received = new Map<string, number>();
        namespace.on('connection', (socket) => {

            received.set(socket.id, 0);
            socket.onAny(() => received.set(socket.id, received.get(socket.id)! + 1));
        });

        const clients = [];
        for (let i = 0; i < SOCKETS; i += 50) {
            clients.push(...await Promise.all(Array.from({ length: 50 }, () => rawClient(port))));
        }

        await eventually(() => assert.equal(received.size, SOCKETS));
        const serverSockets = [...received.keys()];

        for (let i = 0; i < 3; ++i) {
            gc();
            await new Promise((resolve) => setImmediate(resolve));
        }

        const before = process.memoryUsage.rss();
        let peak = before;
        const sampler = setInterval(() => {

            peak = Math.max(peak, process.memoryUsage.rss());
        }, 5);

        clients.forEach((client, index) => {

            client.stopReading();
            for (let frame = 0; frame < FRAMES; ++frame) {
                const room = index % 2 ? frame % ROOMS : 0;
                client.send('subscribe', { signedStreamName: signed[room], since: { epoch: fixture.server.turbo.position(`flood/${room}`).epoch, seq: 0 } });
            }
        });

        // Live messages keep coming on the attacked room while the frames are read
        for (let i = 1; i <= LIVE; ++i) {
            await fixture.server.turbo.broadcast('flood/0', TurboStream.append({ id: 'messages' }, { html: `<div id="live-${i}">${quotes.replaceAll('"', '&quot;')}</div>` }));
            await new Promise((resolve) => setTimeout(resolve, 5));
        }

        // Every frame read, or its socket cut off; then the reader has everything and a round trip
        // shows the server answers
        await eventually(() => assert.equal(serverSockets.every((id) => received.get(id) === FRAMES || !namespace.sockets.has(id)), true), 60_000);
        await eventually(() => assert.equal(inbox.length, LIVE), 30_000);
        assert.deepEqual(await fixture.subscribe(reader, signed[1]), { ok: true, stream: 'flood/1' });
        peak = Math.max(peak, process.memoryUsage.rss());
        clearInterval(sampler);

        const growth = peak - before;
        const cut = serverSockets.filter((id) => !namespace.sockets.has(id)).length;
        t.diagnostic(`${SOCKETS} sockets × ${FRAMES} subscribes since seq 0; one full replay ${MB(replayBytes)} (${MESSAGES} messages); asked for ${MB(SOCKETS * FRAMES * replayBytes)} in total`);
        t.diagnostic(`replays refused (answered gap): ${transport.replaysRefused}; sockets cut off: ${transport.slowDisconnects} (${cut} of the ${SOCKETS})`);
        t.diagnostic(`RSS ${MB(before)} before, ${MB(peak)} at peak: growth ${MB(growth)} (bound 512 MB); reader got ${inbox.length}/${LIVE} live messages`);

        assert.equal(replayBytes > 380 * 1024 && replayBytes < 440 * 1024, true, `replay of ${replayBytes} bytes`);
        assert.equal(growth < 512 * 1024 * 1024, true, `RSS grew by ${MB(growth)}`);
        assert.equal(transport.replaysRefused > 0, true);
        assert.equal(reader.connected, true);
        assert.deepEqual(inbox.map((item) => item.seq), Array.from({ length: LIVE }, (_, i) => MESSAGES + i + 1));
        assert.equal(inbox.every((item, i) => item.html.includes(`id="live-${i + 1}"`)), true);

        clients.forEach((client) => client.ws.terminate());
    });

    it('past maxTotalBufferedBytes across all sockets, cuts off the slowest readers first', async (t) => {

        // Each socket may queue 64 MiB: only the total of 2 MiB can cut anyone off here
        const fixture = await open({ limits: { maxBufferedBytes: 64 * 1024 * 1024, maxTotalBufferedBytes: 2 * 1024 * 1024 } });
        const cuts: { id: string; queued: number; total?: number }[] = [];
        fixture.server.events.on('log', (event, tags) => {

            if (tags['slow-client']) {
                cuts.push(event.data as { id: string; queued: number; total?: number });
            }
        });

        const signed = signStreamName('total', SECRET);
        const [slowest, slow, reader] = [await fixture.client(), await fixture.client(), await fixture.client()];
        for (const socket of [slowest, slow, reader]) {
            assert.deepEqual(await fixture.subscribe(socket, signed), { ok: true, stream: 'total' });
        }

        const inbox = collect(reader);
        const pause = (socket: Socket) => (socket.io.engine.transport as unknown as { ws: { _socket: { pause(): void } } }).ws._socket.pause();
        const ids = [slowest, slow].map((socket) => socket.io.engine.id);
        const html = 'x'.repeat(20_000);
        let sent = 0;
        const send = async function (count: number) {

            for (let i = 0; i < count; ++i) {
                await fixture.server.turbo.broadcast('total', TurboStream.update({ id: 'x' }, { html }));
                ++sent;
                if (sent % 50 === 0) {
                    await eventually(() => assert.equal(inbox.length, sent));
                }
            }
        };

        // The slowest stops reading first, the other one 4 MB later: it always has less waiting
        pause(slowest);
        await send(200);
        pause(slow);
        for (let round = 0; round < 100 && cuts.length < 2; ++round) {
            await send(50);
        }

        t.diagnostic(`${MB(sent * html.length)} broadcast; cut off in order: ${cuts.map((cut) => `${cut.id === ids[0] ? 'slowest' : cut.id === ids[1] ? 'slow' : 'reader'} with ${MB(cut.queued)} waiting of ${MB(cut.total ?? 0)}`).join(', ')}`);
        assert.deepEqual(cuts.map((cut) => cut.id), ids);
        assert.equal(cuts.every((cut) => cut.total! > 2 * 1024 * 1024 && cut.queued < 64 * 1024 * 1024), true);
        assert.equal(reader.connected, true);
        await eventually(() => assert.equal(inbox.length, sent));
        assert.deepEqual(inbox.map((item) => item.seq), Array.from({ length: sent }, (_, i) => i + 1));
    });

    it('disconnects a client that stops reading, keeps memory bounded and still delivers everything, in order, to a reading client', async (t) => {

        const maxBufferedBytes = 1024 * 1024;
        const fixture = await open({ limits: { maxBufferedBytes } });
        const slowLogs: { queued: number; limit: number }[] = [];
        fixture.server.events.on('log', (event, tags) => {

            if (tags['slow-client']) {
                slowLogs.push(event.data as { queued: number; limit: number });
            }
        });

        const signed = signStreamName('firehose', SECRET);
        const [slow, reader] = [await fixture.client(), await fixture.client()];
        assert.deepEqual(await fixture.subscribe(slow, signed), { ok: true, stream: 'firehose' });
        assert.deepEqual(await fixture.subscribe(reader, signed), { ok: true, stream: 'firehose' });

        // Only positions are kept: holding 10 MB of received markup would blur the measurement
        const seqs: number[] = [];
        reader.on('turbo-stream', (html: string | string[], meta: { seq: number }) => {

            // Messages of one event-loop turn may travel in one frame, the last one's seq on it
            const count = Array.isArray(html) ? html.length : 1;
            for (let seq = meta.seq - count + 1; seq <= meta.seq; ++seq) {
                seqs.push(seq);
            }
        });
        const namespace = fixture.server.turbo.io!.of('/turbo');
        const transport = fixture.server.turbo.transport as unknown as { slowDisconnects: number };
        const before = await memory();

        // The slow client stops reading: the kernel's buffers fill, then everything queues in the server
        const tcp = (slow.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }).ws._socket;
        tcp.pause();
        const html = 'x'.repeat(10_000);
        for (let i = 1; i <= 1000; ++i) {
            await fixture.server.turbo.broadcast('firehose', TurboStream.update({ id: 'x' }, { html }));
            if (i % 100 === 0) {
                // The reading client keeps up (in this process it can only read between broadcasts)
                await eventually(() => assert.equal(seqs.length, i));
            }
        }

        await eventually(() => assert.equal(namespace.sockets.size, 1));
        const after = await memory();
        t.diagnostic(`10 MB broadcast; ${transport.slowDisconnects} slow client cut off at ${MB(slowLogs[0]?.queued ?? 0)} queued (limit ${MB(maxBufferedBytes)}); heap + buffers grew ${MB(after - before)}`);

        assert.equal(transport.slowDisconnects, 1);
        assert.equal(slowLogs.length, 1);
        assert.equal(slowLogs[0]!.queued > maxBufferedBytes, true);
        assert.equal(after - before < 5 * 1024 * 1024, true, `memory grew by ${MB(after - before)}`);
        assert.equal(reader.connected, true);
        assert.deepEqual(seqs, Array.from({ length: 1000 }, (_, i) => i + 1));

        tcp.resume();
        await eventually(() => assert.equal(slow.connected, false));
    });
});
