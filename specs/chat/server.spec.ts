import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';

import { QueryTypes } from 'sequelize';
import { io as connect } from 'socket.io-client';

import { databaseOf, storageOf } from '../../lib/chat/database.ts';
import { loadSecret } from '../../lib/chat/secret.ts';
import { createServer } from '../../lib/chat/server.ts';
import { formatTime } from '../../lib/chat/time.ts';
import { unescapeHtml } from '../../lib/turbo/parse.ts';
import { createFixture } from '../support/fixture.ts';
import { testDatabase } from '../support/postgres.ts';
import { crumbOf, SECRET, startChat, submit } from './chat-fixture.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));


describe('createServer', () => {

    let dir: string;

    beforeEach(async () => {

        dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-chat-'));
    });

    afterEach(async () => {

        await rm(dir, { recursive: true, force: true });
    });

    it('creates the schema and seeds "Demo Room" with "demo message" once', async () => {

        const database = await testDatabase(join(dir, 'nested', 'chat.sqlite'));
        try {
            for (let start = 0; start < 2; ++start) {
                const { server, sequelize, Room, Message } = await createServer({ databaseUrl: database.url, secret: SECRET });
                try {
                    const rooms = await Room.findAll({ include: [{ model: Message, as: 'messages' }] });
                    assert.deepEqual(rooms.map((room) => [room.name, room.messages!.map((message) => message.text)]), [['Demo Room', ['demo message']]]);
                }
                finally {
                    await server.stop();
                    await sequelize.close();
                }
            }
        }
        finally {
            await database.drop();
        }
    });

    // Scaled out, servers start together on one database: without a lock, all but one failed
    // creating the tables, or each seeded a "Demo Room" of its own
    it('lets several servers start at once on one PostgreSQL database, and seeds once', { skip: !process.env.TEST_DATABASE_URL && 'PostgreSQL only: npm run test:postgres' }, async () => {

        const database = await testDatabase(join(dir, 'chat.sqlite'));
        const started = await Promise.allSettled([1, 2, 3].map(() => createServer({ databaseUrl: database.url, secret: SECRET })));
        try {
            assert.deepEqual(started.map((result) => result.status === 'rejected' ? String(result.reason) : 'started'), ['started', 'started', 'started']);
            const { Room } = (started[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof createServer>>>).value;
            assert.deepEqual((await Room.findAll()).map((room) => room.name), ['Demo Room']);
        }
        finally {
            for (const result of started) {
                if (result.status === 'fulfilled') {
                    await result.value.server.stop();
                    await result.value.sequelize.close();
                }
            }

            await database.drop();
        }
    });

    it('runs the fixtures on PostgreSQL when TEST_DATABASE_URL is set, on sqlite otherwise', async () => {

        const expected = process.env.TEST_DATABASE_URL ? 'postgres' : 'sqlite';
        const chat = await startChat();
        const fixture = await createFixture();
        try {
            assert.deepEqual([chat.sequelize.getDialect(), fixture.sequelize.getDialect()], [expected, expected]);
        }
        finally {
            await fixture.close();
            await chat.close();
        }
    });

    it('keeps a sqlite file in WAL mode with synchronous=NORMAL, so a message commits without a rollback journal or an fsync', async () => {

        const { server, sequelize } = await createServer({ databaseUrl: `sqlite:${join(dir, 'chat.sqlite')}`, secret: SECRET });
        try {
            const [journal] = await sequelize.query('PRAGMA journal_mode', { type: QueryTypes.SELECT }) as { journal_mode: string }[];
            const [sync] = await sequelize.query('PRAGMA synchronous', { type: QueryTypes.SELECT }) as { synchronous: number }[];
            assert.equal(journal!.journal_mode, 'wal');
            assert.equal(sync!.synchronous, 1, 'NORMAL');
            await stat(join(dir, 'chat.sqlite-wal'));
        }
        finally {
            await server.stop();
        }
    });

    it('seeds nothing when asked not to', async () => {

        const { server, sequelize, Room } = await createServer({ databaseUrl: 'sqlite::memory:', secret: SECRET, seed: false });
        assert.equal(await Room.count(), 0);
        await server.stop();
        await sequelize.close();
    });

    it('serves the stylesheet and the browser assets', async () => {

        const chat = await startChat();
        try {
            const css = await chat.server.inject('/static/chat/chat.css');
            assert.equal(css.statusCode, 200);
            assert.match(String(css.headers['content-type']), /^text\/css/);
            assert.equal(css.headers['set-cookie'], undefined, 'static files need no crumb');

            const turbo = await chat.server.inject('/_turbo/turbo.es2017-esm.js');
            assert.equal(turbo.statusCode, 200);

            const missing = await chat.server.inject('/static/chat/nope.css');
            assert.equal(missing.statusCode, 404);
        }
        finally {
            await chat.close();
        }
    });

    it('delivers a new message over socket.io to a browser subscribed to the room', async () => {

        const chat = await startChat({ host: '127.0.0.1', port: 0 });
        await chat.server.start();
        const socket = connect(`http://127.0.0.1:${chat.server.info.port}/turbo`, { transports: ['websocket'], reconnection: false, forceNew: true });
        try {
            await new Promise<void>((resolve, reject) => {

                socket.once('connect', () => resolve());
                socket.once('connect_error', reject);
            });

            const page = await chat.server.inject('/1/');
            const signedStreamName = unescapeHtml(/signed-stream-name="([^"]+)"/.exec(page.payload)![1]!);

            const ack = await socket.timeout(5000).emitWithAck('subscribe', { signedStreamName });
            assert.deepEqual({ ok: ack.ok, stream: ack.stream }, { ok: true, stream: 'chat:RoomStream[1]' });

            const received = new Promise<string>((resolve) => socket.once('turbo-stream', (html: string) => resolve(html)));
            const crumb = await crumbOf(chat.server);
            const res = await submit(chat.server, '/1/message_create', { text: 'live <i>now</i>' }, { crumb });
            assert.equal(res.statusCode, 303);
            assert.match(await received, /^<turbo-stream action="append" target="messages"><template><li id="message-2">[\s\S]*live &lt;i&gt;now&lt;\/i&gt;/);
        }
        finally {
            socket.disconnect();
            await chat.close();
        }
    });
});


describe('DATABASE_URL', () => {

    it('names an in-memory database or a sqlite file', () => {

        assert.equal(storageOf('sqlite::memory:'), ':memory:');
        assert.equal(storageOf('sqlite:data/chat.sqlite'), resolve('data/chat.sqlite'));
        assert.equal(storageOf('sqlite:///var/lib/chat.sqlite'), '/var/lib/chat.sqlite');
        assert.equal(storageOf('sqlite://chat.sqlite'), resolve('chat.sqlite'));
    });

    it('names a PostgreSQL database by a postgres:// or postgresql:// URL', () => {

        assert.deepEqual(databaseOf('postgres://user:hunter2@db:5432/chat'), { dialect: 'postgres', url: 'postgres://user:hunter2@db:5432/chat' });
        assert.deepEqual(databaseOf('postgresql://db/chat?sslmode=require'), { dialect: 'postgres', url: 'postgresql://db/chat?sslmode=require' });
        assert.deepEqual(databaseOf('sqlite::memory:'), { dialect: 'sqlite', storage: ':memory:' });
    });

    it('rejects other databases and malformed URLs without echoing credentials', () => {

        const refusals: [string, RegExp][] = [
            ['mysql://user:hunter2@db/chat', /must be "sqlite:<path>", "sqlite::memory:" or "postgres:.*\(got scheme "mysql"\)/],
            ['user:hunter2@db/chat', /got scheme "none"/],
            ['postgres://user:hunter2@db:99999/chat', /not a valid postgres:\/\/ URL/],
            ['postgresql://user:hun ter2@[db/chat', /not a valid postgresql:\/\/ URL/],
            ['postgres://user:hunter2%zz@db/chat', /not a valid postgres:\/\/ URL/]
        ];

        for (const [url, message] of refusals) {
            assert.throws(() => databaseOf(url), (error: Error) => {

                assert.match(error.message, message);
                assert.ok(!inspect(error).includes('hunter2'), inspect(error));
                return true;
            }, url);
        }

        assert.throws(() => storageOf('sqlite:'), /needs a file path/);
        assert.throws(() => storageOf('chat.sqlite'), /must be "sqlite:<path>"/);
    });

    it('keeps the password out of a failed connection\'s error', async () => {

        // Nothing listens on port 1: the connection is refused at once
        const failed = await createServer({ databaseUrl: 'postgres://user:hunter2@127.0.0.1:1/chat', secret: SECRET }).then(() => null, (error: unknown) => error);
        assert.match(String(failed), /ECONNREFUSED/);
        assert.ok(!inspect(failed, { depth: 10 }).includes('hunter2'), inspect(failed, { depth: 10 }));
    });
});


describe('Development secret', () => {

    it('is made once, kept private and reused', async () => {

        const dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-chat-'));
        try {
            const file = join(dir, 'data', 'secret');
            const first = await loadSecret(file);
            assert.ok(Buffer.byteLength(first) >= 32);
            assert.equal(await loadSecret(file), first);
            assert.equal((await readFile(file, 'utf8')).trim(), first);
            assert.equal((await stat(file)).mode & 0o077, 0, 'readable by its owner only');
        }
        finally {
            await rm(dir, { recursive: true, force: true });
        }
    });

    it('is refused in production, where SECRET must be set', async () => {

        const previous = process.env.NODE_ENV;
        process.env.NODE_ENV = 'production';
        try {
            await assert.rejects(loadSecret(join(tmpdir(), 'never-written')), /Set SECRET/);
        }
        finally {
            process.env.NODE_ENV = previous;
        }
    });
});


describe('{{time}}', () => {

    it('prints dates as "YYYY-MM-DD HH:mm" in UTC', () => {

        assert.equal(formatTime(new Date(Date.UTC(2026, 10, 28, 15, 4, 59))), '2026-11-28 15:04');
        assert.equal(formatTime('2026-01-02T03:04:05.000Z'), '2026-01-02 03:04');
        assert.equal(formatTime('not a date'), '');
        assert.equal(formatTime(undefined), '');
    });
});


describe('npm start (lib/chat/main.ts)', () => {

    it('serves on the configured host and port, prints the URL and stops cleanly on SIGTERM', async () => {

        const dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-chat-'));
        const database = await testDatabase(join(dir, 'chat.sqlite'));
        const child = spawn(process.execPath, ['--import', 'tsx', 'lib/chat/main.ts'], {
            cwd: ROOT,
            env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: database.url, SECRET },
            stdio: ['ignore', 'pipe', 'pipe']
        });

        let output = '';
        child.stdout.on('data', (chunk: Buffer) => output += chunk);
        child.stderr.on('data', (chunk: Buffer) => output += chunk);
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

        try {
            const url = await new Promise<string>((resolve, reject) => {

                const timer = setTimeout(() => reject(new Error(`no URL printed:\n${output}`)), 20_000);
                child.once('exit', (code) => reject(new Error(`exited with ${code} before serving:\n${output}`)));
                child.stdout.on('data', () => {

                    const match = /Chat is running at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
                    if (match) {
                        clearTimeout(timer);
                        resolve(match[1]!);
                    }
                });
            });

            const res = await fetch(`${url}/`);
            assert.equal(res.status, 200);
            assert.match(await res.text(), /Demo Room/);

            child.kill('SIGTERM');
            assert.equal(await exited, 0, output);
            assert.match(output, /SIGTERM: stopping/);
        }
        finally {
            child.kill('SIGKILL');
            await database.drop();
            await rm(dir, { recursive: true, force: true });
        }
    });
});
