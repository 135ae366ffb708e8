import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createTest, expect, goto, setOffline, waitForStreamsConnected } from 'hapi-turbo/playwright';

import { createServer } from '../../lib/chat/server.ts';
import { addRoom, chatApp, send, texts } from './chat-pages.ts';

// Nothing lost between render and subscribe, while offline, or across a server restart.

const test = createTest({ app: chatApp });

test('a message broadcast after the page rendered but before its element subscribed still arrives', async ({ windows: { a, b } }) => {

    const room = await addRoom(a);
    await goto(a, room);

    // Hold back B's element script: the page is rendered and shown, but not subscribed yet
    let release!: () => void;
    const held = new Promise<void>((resolve) => release = resolve);
    await b.route('**/_turbo/hapi-turbo.js', async (route) => {

        await held;
        await route.continue();
    });

    // Module scripts hold DOMContentLoaded back, so only wait for the page itself
    await b.goto(room, { waitUntil: 'commit' });
    await expect(b.locator('turbo-socket-stream-source')).toBeAttached();
    await expect(b.locator('turbo-socket-stream-source')).not.toHaveAttribute('connected', '');
    await send(a, 'sent in the gap');
    await expect(texts(a)).toHaveText(['sent in the gap']);
    await expect(texts(b)).toHaveCount(0);

    release();
    await waitForStreamsConnected(b);
    await expect(texts(b)).toHaveText(['sent in the gap']);
});


test('a window that was offline shows, once back, every message posted meanwhile, in order, without a reload', async ({ windows: { a, b } }) => {

    const room = await addRoom(a);
    for (const page of [a, b]) {
        await goto(page, room);
    }

    await b.evaluate(() => Object.assign(window, { notReloaded: true }));
    await setOffline(b, true);

    for (let n = 1; n <= 5; ++n) {
        await send(a, `while B was away ${n}`);
    }

    await expect(texts(a)).toHaveCount(5);
    await expect(texts(b)).toHaveCount(0);

    await setOffline(b, false);
    await expect(texts(b)).toHaveText([1, 2, 3, 4, 5].map((n) => `while B was away ${n}`));
    expect(await b.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
});


test('after a server restart both windows reconnect and show the current state', async ({ windows: { a, b } }) => {

    const databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'hapi-turbo-restart-')), 'chat.sqlite')}`;
    const options = { databaseUrl, host: '127.0.0.1', port: 0, secret: 'restart-spec-secret-that-is-long-enough', seed: false };
    let chat = await createServer(options);
    await chat.server.start();
    const port = chat.server.info.port;
    const room = await chat.Room.create({ name: 'Restart' });
    const url = `http://127.0.0.1:${port}/${room.id}/`;

    try {
        for (const page of [a, b]) {
            await goto(page, url);
        }

        await send(a, 'before the restart');
        await expect(texts(b)).toHaveText(['before the restart']);

        // A new process: its counters start over, under a new epoch. A message is written while
        // no server runs, so only a refresh can show it.
        await chat.server.stop();
        await chat.sequelize.close();
        await expect(b.locator('turbo-socket-stream-source')).not.toHaveAttribute('connected', '');
        chat = await createServer({ ...options, port });
        await chat.Message.create({ roomId: room.id, text: 'written while the server was down' });
        await chat.server.start();

        for (const page of [a, b]) {
            await expect(texts(page)).toHaveText(['before the restart', 'written while the server was down'], { timeout: 20_000 });
            await waitForStreamsConnected(page, { timeout: 20_000 });
        }

        await send(b, 'after the restart');
        await expect(texts(a)).toHaveText(['before the restart', 'written while the server was down', 'after the restart']);
    }
    finally {
        await chat.server.stop();
        await chat.sequelize.close();
    }
});
