import { createTest, disconnect, expect, expectConverged, recordStreamMessages, waitForStreamsConnected, type StreamMessage } from 'hapi-turbo/playwright';

import { chatApp, texts } from './chat-pages.ts';

// hapi-turbo/playwright on the chat: three windows on one room, writes from the test process
// through the chat's models, and the faults the harness makes (a dropped socket, a restart).

const test = createTest({ app: chatApp });

test.use({ windowCount: 3 });

// The seqs of the messages a window applied on one stream, one entry per message (a message can
// carry several <turbo-stream> elements: the chat's new message is an append and a highlight)
const seqsOf = function (record: StreamMessage[], stream: string): number[] {

    const seqs: number[] = [];
    for (const message of record.filter((item) => item.stream === stream)) {
        if (seqs.at(-1) !== message.seq) {
            seqs.push(message.seq);
        }
    }

    return seqs;
};


test('a window disconnected for 2 s while 20 messages are written shows all 20, in order, and applied each seq once', async ({ app, windows }) => {

    const room = await app.Room.create({ name: 'Outage' });
    await windows.goto(`/${room.id}/`);
    const [a, , c] = windows.all as [typeof windows.a, typeof windows.a, typeof windows.a];

    const dropped = disconnect(c, { for: 2000 });
    await expect(c.locator('turbo-socket-stream-source')).not.toHaveAttribute('connected', '');
    const written = Array.from({ length: 20 }, (_, index) => `while window 3 was away ${index + 1}`);
    for (const text of written) {
        await app.Message.create({ roomId: room.id, text });
    }

    await expect(texts(a)).toHaveText(written);
    await dropped;
    await expect(texts(c)).toHaveText(written);
    await expectConverged(windows.all, '#messages');

    const stream = app.server.turbo.streamName(room);
    const { seq: last } = app.server.turbo.position(room);
    const expected = Array.from({ length: 20 }, (_, index) => last - 19 + index);
    await expect.poll(async () => seqsOf(await recordStreamMessages(c), stream)).toEqual(expected);
    const appends = (await recordStreamMessages(c)).filter((message) => message.action === 'append');
    expect(appends.map((message) => message.seq)).toEqual(expected);
    expect(appends.map((message) => /class="text">([^<]*)</.exec(message.html)?.[1])).toEqual(written);
});


test('restartApp() with windows open: every window resumes, without a reload, and shows a message written after the restart', async ({ app, windows, restartApp }) => {

    const room = await app.Room.create({ name: 'Restart' });
    await windows.goto(`/${room.id}/`);
    await app.Message.create({ roomId: room.id, text: 'written before the restart' });
    await expectConverged(windows.all, '#messages');
    for (const page of windows.all) {
        await page.evaluate(() => Object.assign(window, { notReloaded: true }));
    }

    await restartApp();
    for (const page of windows.all) {
        await waitForStreamsConnected(page, { timeout: 30_000 });
    }

    await app.Message.create({ roomId: room.id, text: 'written after the restart' });
    for (const page of windows.all) {
        await expect(texts(page)).toHaveText(['written before the restart', 'written after the restart']);
        expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    }

    await expectConverged(windows.all, '#messages');
});


test('a failing expectConverged names the window that differs and shows a line diff', async ({ app, windows }) => {

    const room = await app.Room.create({ name: 'Diverging' });
    await windows.goto(`/${room.id}/`);
    await app.Message.create({ roomId: room.id, text: 'the same everywhere' });
    await expectConverged(windows.all, '#messages');

    // Window 3 alone changes, as no broadcast did
    await windows.all[2]!.locator('#messages li .text').evaluate((element) => element.textContent = 'only in window 3');
    const error = await expectConverged(windows.all, '#messages', { timeout: 500 }).catch((failure: Error) => failure);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain('expectConverged("#messages") after 500 ms: window 3 differs from window 1');
    expect(message).toContain('- window 1\n+ window 3\n  <ul id="messages">');
    expect(message).toMatch(/^- +the same everywhere\n\+ +only in window 3$/m);
    expect(message).not.toMatch(/^[-+] .*<li/m);                        // Only the text differs

    // Text only: markup that reads the same converges, text that differs does not
    await windows.all[1]!.locator('#messages li').evaluate((element) => element.setAttribute('data-extra', 'markup only'));
    await expect(expectConverged(windows.all.slice(0, 2), '#messages', { timeout: 500 })).rejects.toThrow('window 2 differs from window 1');
    await expectConverged(windows.all.slice(0, 2), '#messages', { text: true });
    await expect(expectConverged(windows.all, '#messages', { text: true, timeout: 500 })).rejects.toThrow(/window 3 differs from window 1\n- window 1\n\+ window 3\n- .*the same everywhere.*\n\+ .*only in window 3/);
});


// An expected failure: the report shows the diff, and each window's record attached
test('expectConverged fails a test whose windows never agree', async ({ app, windows }) => {

    test.fail(true, 'expected: window 2 shows a message the others do not');
    const room = await app.Room.create({ name: 'Never' });
    await windows.goto(`/${room.id}/`);
    await app.Message.create({ roomId: room.id, text: 'seen by all' });
    await windows.b.locator('#messages').evaluate((element) => element.insertAdjacentHTML('beforeend', '<li>seen by window 2 alone</li>'));
    await expectConverged(windows.all, '#messages', { timeout: 1000 });
});
