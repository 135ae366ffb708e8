import { randomUUID } from 'node:crypto';

import type { Page } from '@playwright/test';

import { createTest, expect, goto } from 'hapi-turbo/playwright';

import { chatApp, openRoom, send, texts } from './chat-pages.ts';

// Two windows (two browser contexts, two cookie jars) on the chat app, which the harness starts in
// this worker. Every test makes its own room, so tests do not see each other's messages.

const test = createTest({ app: chatApp });

const openRooms = async function (page: Page): Promise<void> {

    await goto(page, '/');
};


/** Adds a room through the form in `page` and returns its path. */
const addRoom = async function (page: Page, name: string): Promise<string> {

    await page.getByLabel('Room name').fill(name);
    await page.getByRole('button', { name: 'Add' }).click();
    const link = page.locator('#room_list a', { hasText: name });
    await expect(link).toHaveCount(1);
    return (await link.getAttribute('href'))!;
};


test('messages posted in one window appear in the other, exactly once and in order, and the form clears', async ({ windows: { a, b } }) => {

    await openRooms(a);
    const room = await addRoom(a, `Room ${randomUUID()}`);
    await openRoom(a, room);
    await openRoom(b, room);

    await send(a, 'hello from A');
    await expect(texts(b)).toHaveText(['hello from A']);
    await expect(a.getByLabel('Message')).toHaveValue('');

    await send(b, 'hello from B');
    await expect(texts(a)).toHaveText(['hello from A', 'hello from B']);
    await send(a, 'third');
    await expect(texts(a)).toHaveText(['hello from A', 'hello from B', 'third']);
    await expect(texts(b)).toHaveText(['hello from A', 'hello from B', 'third']);
    await expect(b.getByLabel('Message')).toHaveValue('');
});


test('removing in one window removes in the other; editing in the other replaces in the first', async ({ windows: { a, b } }) => {

    await openRooms(a);
    const room = await addRoom(a, `Room ${randomUUID()}`);
    await openRoom(a, room);
    await openRoom(b, room);
    await send(a, 'keep me');
    await send(a, 'remove me');
    await expect(texts(b)).toHaveText(['keep me', 'remove me']);

    await a.locator('#messages li', { hasText: 'remove me' }).getByRole('button', { name: '[Remove]' }).click();
    await expect(texts(b)).toHaveText(['keep me']);
    await expect(texts(a)).toHaveText(['keep me']);

    await b.locator('#messages li', { hasText: 'keep me' }).getByRole('link', { name: '[Edit]' }).click();
    const editor = b.locator('#messages li form input[name="text"]');
    await expect(editor).toHaveValue('keep me');
    await editor.fill('edited by B');
    await b.getByRole('button', { name: 'Save' }).click();
    await expect(texts(a)).toHaveText(['edited by B']);
    await expect(texts(b)).toHaveText(['edited by B']);
    await expect(b.locator('#messages li form input[name="text"]')).toHaveCount(0);
});


test('hostile text renders literally in both windows', async ({ windows: { a, b } }) => {

    const hostile = '<script>window.pwned = true</script><img src=x onerror="window.pwned = true">';
    await openRooms(a);
    const room = await addRoom(a, `<b>Room</b> ${randomUUID()}`);
    await openRoom(a, room);
    await openRoom(b, room);
    await send(a, hostile);

    await expect(texts(b)).toHaveText([hostile]);
    await expect(texts(a)).toHaveText([hostile]);
    await expect(b.locator('h1')).toContainText('<b>Room</b>');
    for (const page of [a, b]) {
        expect(await page.evaluate(() => (window as unknown as { pwned?: boolean }).pwned)).toBeUndefined();
        await expect(page.locator('#messages img, #messages script')).toHaveCount(0);
    }
});


test('a room added in one window appears in the other\'s list', async ({ windows: { a, b } }) => {

    await openRooms(a);
    await openRooms(b);
    const name = `Room ${randomUUID()}`;
    await addRoom(a, name);
    await expect(b.locator('#room_list a', { hasText: name })).toHaveCount(1);
    await expect(a.getByLabel('Room name')).toHaveValue('');
});


test('the broadcast box updates in both windows', async ({ windows: { a, b } }) => {

    for (const page of [a, b]) {
        await goto(page, '/broadcast');
    }

    const text = `Hello <everyone> ${randomUUID()}`;
    await a.getByLabel('Text').fill(text);
    await a.getByRole('button', { name: 'Broadcast' }).click();
    await expect(b.locator('#broadcast_box')).toHaveText(text);
    await expect(a.locator('#broadcast_box')).toHaveText(text);
});


test('"Delete all" empties the room list in both windows', async ({ windows: { a, b } }) => {

    await openRooms(a);
    await addRoom(a, `Room ${randomUUID()}`);
    await openRooms(b);
    await expect(b.locator('#room_list li')).not.toHaveCount(0);

    await a.getByRole('button', { name: 'Delete all' }).click();
    await expect(a.locator('#room_list li')).toHaveCount(0);
    await expect(b.locator('#room_list li')).toHaveCount(0);
});
