import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { io as connect, type Socket } from 'socket.io-client';

import { TurboStream } from '../../lib/turbo/fragment.ts';
import { StreamClient, type StreamMember, type StreamPosition } from '../../static/turbo/stream-client.js';
import { createFixture, eventually, type Fixture } from '../support/fixture.ts';
import { startRedis, type RedisInstance } from '../support/redis.ts';

// Two servers (as two processes would be) sharing one Redis: socket.io rooms through the Redis
// Streams adapter, sequence counters and replay buffers in Redis.

interface Reader {
    socket: Socket;
    applied: number[];
    refreshes: number;
    client: StreamClient;
    member: StreamMember;
}


const reader = function (fixture: Fixture, signed: string, position: StreamPosition | null): Reader {

    const socket = connect(`http://127.0.0.1:${fixture.server.info.port}/turbo`, { transports: ['websocket'], forceNew: true, reconnectionDelay: 50 });
    const client = new StreamClient(() => socket as never, { reconnectDelay: () => 50 });
    const result = { socket, applied: [] as number[], refreshes: 0, client } as Reader;
    result.member = {
        position,
        receive: (_html, meta) => {

            for (let seq = meta.from; seq <= meta.seq; ++seq) {
                result.applied.push(seq);
            }
        },
        setConnected: () => undefined,
        setFailed: () => undefined,
        refresh: () => ++result.refreshes
    };

    client.add(signed, result.member);
    return result;
};


const connected = (readers: Reader[]) => Promise.all(readers.map((item) => new Promise((resolve) => item.socket.connected ? resolve(undefined) : item.socket.once('connect', () => resolve(undefined)))));


describe('two servers on one Redis', () => {

    let redis: RedisInstance;
    let a: Fixture;
    let b: Fixture;
    const readers: Reader[] = [];

    before(async () => {

        redis = await startRedis();
        a = await (await createFixture({ redis: redis.url })).start();
        b = await (await createFixture({ redis: redis.url })).start();
    });

    after(async () => {

        readers.forEach((item) => {

            item.socket.io.reconnection(false);
            item.socket.disconnect();
        });

        await Promise.all([a.close(), b.close()]);
        await redis.stop();
    });

    it('delivers broadcasts from either server to clients of both, each applied once, in seq order', async () => {

        const signed = a.server.turbo.sign('shared');
        assert.equal(b.server.turbo.verify(signed), 'shared');
        await a.server.turbo.broadcast('shared', TurboStream.update({ id: 'x' }, { text: 'before anyone listened' }));

        const group = [...Array.from({ length: 5 }, () => reader(a, signed, null)), ...Array.from({ length: 5 }, () => reader(b, signed, null))];
        readers.push(...group);
        await connected(group);
        await eventually(() => assert.equal(a.server.turbo.io!.of('/turbo').adapter.rooms.get('shared')?.size, 5));
        await eventually(() => assert.equal(b.server.turbo.io!.of('/turbo').adapter.rooms.get('shared')?.size, 5));

        const sends = [];
        for (let n = 0; n < 100; ++n) {
            const from = n % 2 ? a : b;
            sends.push(from.server.turbo.broadcast('shared', TurboStream.append({ id: 'x' }, { text: `m${n}` })));
        }

        await Promise.all(sends);
        const expected = Array.from({ length: 100 }, (_, index) => index + 2);
        await eventually(() => assert.equal(group.filter((item) => item.applied.length === 100).length, 10), 10_000);
        for (const item of group) {
            assert.deepEqual(item.applied, expected);
        }

        assert.equal((await a.server.turbo.fetchPosition('shared')).seq, 101);
    });

    it('lets a client that moves to the other server catch up from the shared buffer', async () => {

        const signed = a.server.turbo.sign('moving');
        const first = reader(a, signed, await a.server.turbo.fetchPosition('moving'));
        readers.push(first);
        await connected([first]);
        await a.server.turbo.broadcast('moving', TurboStream.update({ id: 'x' }, { text: 'one' }));
        await eventually(() => assert.deepEqual(first.applied, [1]));

        // Its server goes away; it comes back through the other one, which missed nothing in Redis
        first.socket.io.reconnection(false);
        first.socket.disconnect();
        await a.server.turbo.broadcast('moving', TurboStream.update({ id: 'x' }, { text: 'two' }));
        await b.server.turbo.broadcast('moving', TurboStream.update({ id: 'x' }, { text: 'three' }));

        const moved = reader(b, signed, { ...a.server.turbo.position('moving'), seq: 1 });
        readers.push(moved);
        await eventually(() => assert.deepEqual(moved.applied, [2, 3]));
        assert.equal(moved.refreshes, 0);
    });

    it('stays up while Redis is down, logs it, and broadcasts again once Redis is back (pages refresh: its data is gone)', async () => {

        const logged: string[] = [];
        a.server.events.on({ name: 'log', channels: 'app' }, (event) => {

            if (event.tags.includes('redis')) {
                logged.push((event.data as { message: string }).message);
            }
        });

        const signed = a.server.turbo.sign('outage');
        const item = reader(a, signed, null);
        readers.push(item);
        await connected([item]);
        await eventually(() => assert.equal(a.server.turbo.io!.of('/turbo').adapter.rooms.get('outage')?.size, 1));
        await a.server.turbo.broadcast('outage', TurboStream.update({ id: 'x' }, { text: 'before' }));
        await eventually(() => assert.deepEqual(item.applied, [1]));

        await redis.stop();
        await assert.rejects(a.server.turbo.broadcast('outage', TurboStream.update({ id: 'x' }, { text: 'during' })));
        await eventually(() => assert.equal(logged.some((message) => message.startsWith('Redis unreachable')), true));
        assert.equal((await a.server.inject('/_turbo/hapi-turbo.js')).statusCode, 200, 'the web server still answers');

        await redis.start();
        await eventually(() => assert.equal(logged.some((message) => message === 'Redis reachable again'), true), 10_000);
        await eventually(async () => {

            await a.server.turbo.broadcast('outage', TurboStream.update({ id: 'x' }, { text: 'after' }));
            assert.equal(item.refreshes > 0 || item.applied.length > 1, true);
        }, 15_000);
    });
});
