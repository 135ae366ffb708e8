import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { io as connect, type Socket } from 'socket.io-client';

import { StreamClient, type StreamPosition } from '../../static/turbo/stream-client.js';
import { eventually } from '../support/fixture.ts';
import { csrf, startChat, type ChatProcess } from '../support/processes.ts';
import { startRedis, type RedisInstance } from '../support/redis.ts';

// Two chat processes sharing one Redis and one database, with socket.io clients split across them,
// broadcasts from either process and from the command line, then one process killed.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

interface Reader {
    socket: Socket;
    url: string;
    texts: string[];
    seqs: number[];
    refreshes: number;
}


const readBox = function (processUrl: string, signed: string, position: StreamPosition | null): Reader {

    const socket = connect(`${processUrl}/turbo`, { transports: ['websocket'], forceNew: true, reconnectionDelay: 50 });
    const reader: Reader = { socket, url: processUrl, texts: [], seqs: [], refreshes: 0 };
    new StreamClient(() => socket as never, { reconnectDelay: () => 50 }).add(signed, {
        position,
        receive: (html, meta) => {

            reader.texts.push(...[...html.matchAll(/<template>(.*?)<\/template>/g)].map((match) => match[1]!));
            for (let seq = meta.from; seq <= meta.seq; ++seq) {
                reader.seqs.push(seq);
            }
        },
        setConnected: () => undefined,
        setFailed: () => undefined,
        refresh: () => ++reader.refreshes
    });

    return reader;
};


const post = async function (processUrl: string, text: string): Promise<void> {

    const { cookie, token } = await csrf(`${processUrl}/broadcast`);
    const res = await fetch(`${processUrl}/broadcast`, {
        method: 'POST',
        headers: { cookie, 'x-csrf-token': token, 'content-type': 'application/x-www-form-urlencoded', accept: 'text/vnd.turbo-stream.html' },
        body: new URLSearchParams({ text })
    });

    assert.equal(res.status, 200, await res.text());
};


describe('two chat processes on one Redis', () => {

    let dir: string;
    let redis: RedisInstance;
    let a: ChatProcess;
    let b: ChatProcess;
    const readers: Reader[] = [];

    before(async () => {

        dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-cluster-'));
        redis = await startRedis();
        const env = { REDIS_URL: redis.url, DATABASE_URL: `sqlite:${join(dir, 'chat.sqlite')}` };
        a = await startChat(env);
        b = await startChat(env);
    });

    after(async () => {

        readers.forEach((reader) => {

            reader.socket.io.reconnection(false);
            reader.socket.disconnect();
        });

        await Promise.all([a.kill(), b.kill()]);
        await redis.stop();
        await rm(dir, { recursive: true, force: true });
    });

    it('delivers broadcasts from process A, process B and the command line to every client of both, once each, in seq order', async () => {

        const page = await (await fetch(`${a.url}/broadcast`)).text();
        const [, signed, epoch, seq] = /signed-stream-name="([^"]+)" epoch="([^"]+)" seq="(\d+)"/.exec(page)!;
        const position = { epoch: epoch!, seq: Number(seq) };
        readers.push(...[a, b, a, b, a, b].map((process) => readBox(process.url, signed!, position)));

        await post(a.url, 'from A');
        await post(b.url, 'from B');
        const cli = await run('npm', ['run', '-s', 'broadcast', '--', 'chat:BroadcastStream', 'update', '--target', 'broadcast_box', '--text', 'from the command line'], { cwd: ROOT, env: { ...process.env, REDIS_URL: redis.url } });
        assert.match(cli.stdout, /sent update to chat:BroadcastStream/);
        await post(a.url, 'from A again');

        const expected = ['from A', 'from B', 'from the command line', 'from A again'];
        await eventually(() => assert.equal(readers.filter((reader) => reader.texts.length === 4).length, readers.length), 10_000);
        for (const reader of readers) {
            assert.deepEqual(reader.texts, expected);
            assert.deepEqual(reader.seqs, [1, 2, 3, 4].map((n) => position.seq + n));
            assert.equal(reader.refreshes, 0);
        }
    });

    it('lets the clients of a killed process reconnect to the other and catch up, losing nothing', async () => {

        const onA = readers.filter((reader) => reader.url === a.url);
        assert.equal(onA.length, 3);
        await a.kill('SIGKILL');

        await post(b.url, 'while A was gone');
        // The load balancer sends them to B: new sockets, same positions
        const page = await (await fetch(`${b.url}/broadcast`)).text();
        const [, signed, epoch] = /signed-stream-name="([^"]+)" epoch="([^"]+)"/.exec(page)!;
        const moved = onA.map((reader) => {

            reader.socket.io.reconnection(false);
            reader.socket.disconnect();
            const next = readBox(b.url, signed!, { epoch: epoch!, seq: reader.seqs.at(-1)! });
            next.texts.push(...reader.texts);
            next.seqs.push(...reader.seqs);
            return next;
        });

        readers.push(...moved);
        await post(b.url, 'after the move');
        const expected = ['from A', 'from B', 'from the command line', 'from A again', 'while A was gone', 'after the move'];
        await eventually(() => assert.equal(moved.filter((reader) => reader.texts.length === 6).length, 3), 10_000);
        for (const reader of moved) {
            assert.deepEqual(reader.texts, expected);
            assert.equal(reader.refreshes, 0);
        }
    });
});
