import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect, test, waitForStreamsConnected } from 'hapi-turbo/playwright';

import { startChat } from '../support/processes.ts';
import { startRedis } from '../support/redis.ts';
import { send, texts } from './chat-pages.ts';

// Window 1 on one chat process, window 2 on another; the processes share Redis and the database.

test('two windows on two processes see each other\'s messages', async ({ windows: { a, b } }) => {

    test.setTimeout(90_000);
    const redis = await startRedis();
    const env = { REDIS_URL: redis.url, DATABASE_URL: `sqlite:${join(mkdtempSync(join(tmpdir(), 'hapi-turbo-two-')), 'chat.sqlite')}` };
    const one = await startChat(env);
    const two = await startChat(env);

    try {
        // The demo room seeded by the first process, opened through each process
        await a.goto(`${one.url}/`);
        const room = (await a.locator('#room_list a').first().getAttribute('href'))!;
        await a.goto(`${one.url}${room}`);
        await b.goto(`${two.url}${room}`);
        await waitForStreamsConnected(a);
        await waitForStreamsConnected(b);
        await expect(a.getByLabel('Message')).toBeVisible();
        await expect(b.getByLabel('Message')).toBeVisible();

        await send(a, 'from window 1 on process one');
        await expect(texts(b)).toHaveText(['demo message', 'from window 1 on process one']);
        await send(b, 'from window 2 on process two');
        await expect(texts(a)).toHaveText(['demo message', 'from window 1 on process one', 'from window 2 on process two']);
        await expect(texts(b)).toHaveText(['demo message', 'from window 1 on process one', 'from window 2 on process two']);
    }
    finally {
        await Promise.all([one.kill(), two.kill()]);
        await redis.stop();
    }
});
