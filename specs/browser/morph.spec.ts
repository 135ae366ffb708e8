import type { Page } from '@playwright/test';

import { createTest, expect } from 'hapi-turbo/playwright';

import { addRoom, chatApp, edit, openRoom, send, texts } from './chat-pages.ts';

// Morphing: an edited message is morphed into place in the other windows, and a refresh of the
// room page morphs the page, so what a reader is doing there (typing, scrolling) is left alone.

const test = createTest({ app: chatApp });


/** B, a reader in the middle of something: scrolled down a little, a draft typed in the send form, not sent. */
const busyReader = async function (b: Page): Promise<{ scrollY: number }> {

    await b.getByLabel('Message').fill('a draft, not sent');
    await b.evaluate(() => window.scrollTo(0, 150));
    const scrollY = await b.evaluate(() => window.scrollY);
    expect(scrollY).toBeGreaterThan(100);
    await expect(b.getByLabel('Message')).toBeFocused();
    return { scrollY };
};


const expectUndisturbed = async function (b: Page, scrollY: number): Promise<void> {

    await expect(b.getByLabel('Message')).toBeFocused();
    await expect(b.getByLabel('Message')).toHaveValue('a draft, not sent');
    expect(await b.evaluate(() => window.scrollY)).toBe(scrollY);
};


test('an edit morphs the message in the other window, which keeps its focus, its draft and its scroll position', async ({ windows: { a, b } }) => {

    const room = await addRoom(a);
    await openRoom(a, room);
    await b.setViewportSize({ width: 800, height: 360 });
    await openRoom(b, room);
    for (let n = 1; n <= 10; ++n) {
        await send(a, `message ${n}`);
    }

    await expect(texts(b)).toHaveCount(10);
    const { scrollY } = await busyReader(b);

    // A mark on B's element and its text node: a morph keeps the nodes, a replace would swap them
    const id = (await b.locator('#messages li', { hasText: 'message 4' }).getAttribute('id'))!;
    await b.evaluate((target) => Object.assign(document.getElementById(target)!, { morphProbe: true }), id);

    await edit(a, 'message 4', 'message 4, edited');
    await expect(b.locator(`#${id} .text`)).toHaveText('message 4, edited');
    expect(await b.evaluate((target) => (document.getElementById(target) as HTMLElement & { morphProbe?: boolean }).morphProbe, id)).toBe(true);
    await expectUndisturbed(b, scrollY);
});


test('a refresh of the room page morphs it: the draft, the focus and the scroll position stay, the send form still works', async ({ windows: { a, b } }) => {

    const room = await addRoom(a);
    await openRoom(a, room);
    await b.setViewportSize({ width: 800, height: 360 });
    await openRoom(b, room);
    for (let n = 1; n <= 10; ++n) {
        await send(a, `message ${n}`);
    }

    await expect(texts(b)).toHaveCount(10);
    const { scrollY } = await busyReader(b);

    // What the element does when it cannot close a gap: Turbo's refresh action, as a page would get it
    const morphed = b.evaluate(() => new Promise((resolve) => document.addEventListener('turbo:morph', () => resolve(true), { once: true })));
    await b.evaluate(() => (document.querySelector('turbo-socket-stream-source') as HTMLElement & { refresh(reason: string): void }).refresh('gap'));
    expect(await morphed).toBe(true);

    await expect(texts(b)).toHaveCount(10);
    await expectUndisturbed(b, scrollY);
    await expect(b.locator('turbo-socket-stream-source')).toHaveAttribute('connected', '');        // Its own state, not the new page's
    await b.getByRole('button', { name: 'Send' }).click();
    await expect(texts(a).last()).toHaveText('a draft, not sent');
});
