import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Page } from '@playwright/test';
import { expect, goto, type AppAddress } from 'hapi-turbo/playwright';

import { createServer } from '../../lib/chat/server.ts';

// The chat app as the browser specs run it, and steps through its pages that they share.


/**
 * The chat for `createTest({ app: chatApp })`: on the address the harness gives, with a sqlite file
 * of its own, "Demo Room" seeded. The harness starts it and stops it; `close()` removes the database.
 */
export const chatApp = async function (address: AppAddress) {

    const dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-chat-'));
    const chat = await createServer({ ...address, databaseUrl: `sqlite:${join(dir, 'chat.sqlite')}`, secret: 'browser-specs-secret-that-is-long-enough' });
    return {
        ...chat,
        async close() {

            await chat.sequelize.close();
            await rm(dir, { recursive: true, force: true });
        }
    };
};

export const texts = (page: Page) => page.locator('#messages li .text');


/** Adds a room through the room list's form and returns its path. */
export const addRoom = async function (page: Page): Promise<string> {

    const name = `Room ${randomUUID()}`;
    await page.goto('/');
    await page.getByLabel('Room name').fill(name);
    await page.getByRole('button', { name: 'Add' }).click();
    const link = page.locator('#room_list a', { hasText: name });
    await expect(link).toHaveCount(1);
    return (await link.getAttribute('href'))!;
};


export const openRoom = async function (page: Page, path: string): Promise<void> {

    await goto(page, path);
    await expect(page.getByLabel('Message')).toBeVisible();                 // The lazy send-message frame loaded
};


// Waits for the fresh, empty form: typing into the old one while the frame reloads would be lost
export const send = async function (page: Page, text: string): Promise<void> {

    await page.getByLabel('Message').fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
    await expect(page.getByLabel('Message')).toHaveValue('');
};


/** Edits the message showing `text` through its [Edit] link and the form that opens. */
export const edit = async function (page: Page, text: string, replacement: string): Promise<void> {

    await page.locator('#messages li', { hasText: text }).getByRole('link', { name: '[Edit]' }).click();
    const editor = page.locator('#messages li form input[name="text"]');
    await expect(editor).toHaveValue(text);
    await editor.fill(replacement);
    await page.getByRole('button', { name: 'Save' }).click();
    await expect(page.locator('#messages li form input[name="text"]')).toHaveCount(0);
};


/**
 * Starts counting, in the page, what reaches it: messages its stream sources hand to Turbo (from the
 * socket), <turbo-stream> elements Turbo renders (from the socket or an HTTP answer), and refreshes.
 */
export const countStreams = async function (page: Page): Promise<void> {

    await page.evaluate(() => {

        const counts = { socket: [] as string[], rendered: [] as string[], refreshes: 0 };
        (window as unknown as { streamCounts: typeof counts }).streamCounts = counts;
        for (const source of document.querySelectorAll('turbo-socket-stream-source')) {
            source.addEventListener('message', (event) => counts.socket.push((event as MessageEvent<string>).data));
        }

        document.addEventListener('turbo:before-stream-render', (event) => {

            const stream = (event as CustomEvent<{ newStream: Element }>).detail.newStream;
            counts.rendered.push(`${stream.getAttribute('action')} ${stream.getAttribute('target') ?? ''}`);
        });
        document.addEventListener('turbo-stream-source:refresh', () => ++counts.refreshes);
    });
};


export const streamCounts = (page: Page) => page.evaluate(() => (window as unknown as { streamCounts: { socket: string[]; rendered: string[]; refreshes: number } }).streamCounts);
