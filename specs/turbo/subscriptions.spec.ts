import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ReplayLog, type ReplayRecord } from '../../lib/turbo/replay.ts';
import { StreamRegistry } from '../../lib/turbo/registry.ts';
import { signStreamName, MAX_SIGNED_NAME } from '../../lib/turbo/signing.ts';
import { Stream } from '../../lib/turbo/stream.ts';
import { SubscriptionProtocol, type Subscriber, type SubscribeLimits } from '../../lib/turbo/subscriptions.ts';

// The subscribe protocol without a transport: a subscriber that records what it is told, a real
// registry, a real signature and a real in-memory replay log. The same protocol over socket.io, and
// against hostile clients, is in transports/socket-io.spec.ts and specs/hostile/sockets.spec.ts.

const SECRET = 'a-secret-for-the-protocol-that-is-long-enough';

class MembersStream extends Stream {

    override userPassesTest(user: unknown): boolean {

        return (user as { member?: boolean } | null)?.member === true;
    }
}


interface Recorded {
    events: string[];
    rooms: Set<string>;
}


const subscriber = function (fits = true): Subscriber & Recorded {

    const events: string[] = [];
    const rooms = new Set<string>();
    return {
        id: 'socket-1',
        connected: true,
        events,
        rooms,
        join: (stream) => {

            rooms.add(stream);
            events.push(`join ${stream}`);
        },
        leave: (stream) => {

            rooms.delete(stream);
            events.push(`leave ${stream}`);
        },
        send: (records: readonly ReplayRecord[]) => events.push(`send ${records.map((record) => record.seq).join(',')}`),
        fits: () => fits
    };
};


const setup = function (limits: Partial<SubscribeLimits> = {}, user: unknown = null) {

    const replay = new ReplayLog();
    const logged: object[] = [];
    const protocol = new SubscriptionProtocol({
        secrets: [SECRET],
        registry: new StreamRegistry({ app: [MembersStream] }),
        log: (_tags, data) => logged.push(data),
        replay,
        identify: () => Promise.resolve(user),
        limits: { maxSubscriptions: 10, subscribeBurst: 50, subscribePerSecond: 10, ...limits }
    });

    const answers: object[] = [];
    const answer = (value: object) => answers.push(value);
    return { protocol, replay, logged, answers, answer };
};


describe('SubscriptionProtocol', () => {

    it('answers a signed name with the stream and where it stands, after joining its room', async () => {

        const { protocol, replay, answers, answer } = setup();
        replay.append('room', '<turbo-stream></turbo-stream>');
        const client = subscriber();
        const session = await protocol.open({});
        await protocol.subscribe(session, client, { signedStreamName: signStreamName('room', SECRET) }, answer);
        assert.deepEqual(client.events, ['join room']);
        assert.deepEqual(answers, [{ ok: true, stream: 'room', epoch: replay.position('room').epoch, seq: 1 }]);
        assert.deepEqual([...session.streams], ['room']);
    });

    it('refuses malformed frames, bad signatures and overlong names without joining', async () => {

        const { protocol, answers, answer } = setup();
        const client = subscriber();
        const session = await protocol.open({});
        const signed = signStreamName('room', SECRET);
        for (const payload of [null, 'room', [], {}, { signedStreamName: 42 }, { signedStreamName: 'x'.repeat(MAX_SIGNED_NAME + 1) }, { signedStreamName: signed, since: { epoch: 1, seq: 0 } }]) {
            await protocol.subscribe(session, client, payload, answer);
        }

        await protocol.subscribe(session, client, { signedStreamName: signStreamName('room', 'another-secret-that-is-long-enough-too') }, answer);
        assert.deepEqual(answers.map((item) => (item as { error: string }).error), [...Array(7).fill('bad-request'), 'invalid-signature']);
        assert.deepEqual(client.events, []);
    });

    it('asks the stream class whether the user may subscribe, and takes a refused user out of the room', async () => {

        const members = setup({}, { member: true });
        const name = new StreamRegistry({ app: [MembersStream] }).entries[0]![0];
        const signed = signStreamName(name, SECRET);
        const client = subscriber();
        const session = await members.protocol.open({});
        await members.protocol.subscribe(session, client, { signedStreamName: signed }, members.answer);
        assert.equal((members.answers[0] as { ok: boolean }).ok, true);

        session.user = { member: false };                               // Access is checked on every subscribe
        await members.protocol.subscribe(session, client, { signedStreamName: signed }, members.answer);
        assert.deepEqual(members.answers[1], { ok: false, error: 'forbidden' });
        assert.deepEqual(client.events, [`join ${name}`, `leave ${name}`]);
        assert.equal(session.streams.size, 0);
    });

    it('rate-limits subscribe and unsubscribe frames after the burst', async () => {

        const { protocol, answers, answer } = setup({ subscribeBurst: 2, subscribePerSecond: 0.1 });
        const session = await protocol.open({});
        const client = subscriber();
        const signed = signStreamName('room', SECRET);
        await protocol.subscribe(session, client, { signedStreamName: signed }, answer);
        await protocol.unsubscribe(session, client, { signedStreamName: signed }, answer);
        await protocol.subscribe(session, client, { signedStreamName: signed }, answer);
        assert.deepEqual(answers.map((item) => (item as { ok: boolean; error?: string }).error ?? 'ok'), ['ok', 'ok', 'rate-limited']);
    });

    it('limits the streams of one client', async () => {

        const { protocol, answers, answer } = setup({ maxSubscriptions: 1 });
        const session = await protocol.open({});
        const client = subscriber();
        await protocol.subscribe(session, client, { signedStreamName: signStreamName('a', SECRET) }, answer);
        await protocol.subscribe(session, client, { signedStreamName: signStreamName('a', SECRET) }, answer);     // Again: not one more
        await protocol.subscribe(session, client, { signedStreamName: signStreamName('b', SECRET) }, answer);
        assert.deepEqual(answers.map((item) => (item as { error?: string }).error ?? 'ok'), ['ok', 'ok', 'too-many-subscriptions']);
    });

    it('sends a resuming client what it missed, after the answer; a gap when the log cannot tell or it does not fit', async () => {

        const { protocol, replay, answers, answer } = setup();
        const { epoch } = replay.position('room');
        for (let i = 0; i < 3; ++i) {
            replay.append('room', `<turbo-stream action="refresh" n="${i}"></turbo-stream>`);
        }

        const signed = signStreamName('room', SECRET);
        const client = subscriber();
        await protocol.subscribe(await protocol.open({}), client, { signedStreamName: signed, since: { epoch, seq: 1 } }, (value) => {

            client.events.push('answer');
            answer(value);
        });
        assert.deepEqual(client.events, ['join room', 'answer', 'send 2,3']);

        await protocol.subscribe(await protocol.open({}), subscriber(), { signedStreamName: signed, since: { epoch: 'another-epoch', seq: 1 } }, answer);
        await protocol.subscribe(await protocol.open({}), subscriber(false), { signedStreamName: signed, since: { epoch, seq: 0 } }, answer);
        assert.deepEqual(answers.slice(1).map((item) => (item as { gap?: boolean }).gap), [true, true]);
    });

    it('unsubscribes a signed name and leaves its room', async () => {

        const { protocol, answers, answer } = setup();
        const client = subscriber();
        const session = await protocol.open({});
        const signed = signStreamName('room', SECRET);
        await protocol.subscribe(session, client, { signedStreamName: signed }, answer);
        await protocol.unsubscribe(session, client, { signedStreamName: signed }, answer);
        await protocol.unsubscribe(session, client, { signedStreamName: `${signed}x` }, answer);
        assert.deepEqual(answers.slice(1), [{ ok: true, stream: 'room' }, { ok: false, error: 'invalid-signature' }]);
        assert.deepEqual(client.events, ['join room', 'leave room']);
    });

    it('opens an anonymous session when identifying the client fails, and logs it', async () => {

        const logged: object[] = [];
        const protocol = new SubscriptionProtocol({
            secrets: [SECRET],
            registry: new StreamRegistry({}),
            log: (_tags, data) => logged.push(data),
            replay: new ReplayLog(),
            identify: () => Promise.reject(new Error('cookie jar on fire')),
            limits: { maxSubscriptions: 1, subscribeBurst: 1, subscribePerSecond: 1 }
        });
        const session = await protocol.open({ cookie: 'x' });
        assert.equal(session.user, null);
        assert.deepEqual(logged, [{ message: 'cookie jar on fire' }]);
    });
});
