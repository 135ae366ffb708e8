import { randomUUID } from 'node:crypto';

import type { Page } from '@playwright/test';

import { createTest, expect, goto, waitForStreamsConnected } from 'hapi-turbo/playwright';

import { chatApp } from './chat-pages.ts';

// Components: the alert, broadcast to everyone, and a counter per visitor, which only that
// visitor's windows receive. Two browser contexts are two visitors (two cookie jars).

const test = createTest({ app: chatApp });

const openComponents = async function (page: Page): Promise<void> {

    await goto(page, '/components');
};


const counter = (page: Page) => page.locator('.counter strong');


test('an alert given in one window appears in the other', async ({ windows: { a, b } }) => {

    await openComponents(a);
    await openComponents(b);
    const text = `Fire drill at <noon> ${randomUUID()}`;
    await a.getByLabel('Alert').fill(text);
    await a.getByRole('button', { name: 'Show everyone' }).click();
    await expect(b.locator('.alert')).toHaveText(text);
    await expect(a.locator('.alert')).toHaveText(text);
    await expect(a.getByLabel('Alert')).toHaveValue('');
});


test('"+1" counts in every window of that visitor and in no one else\'s; another visitor cannot listen in', async ({ windows: { a, b } }) => {

    const a2 = await a.context().newPage();                   // A second window of visitor A
    for (const page of [a, a2, b]) {
        await openComponents(page);
    }

    for (const page of [a, a2, b]) {
        await expect(counter(page)).toHaveText('0');
    }

    // B tries to listen to A's counter: its own copy of A's wrapper, and a stream source with A's
    // signed name, which the server refuses (B's socket is B's visitor)
    const [signed, wrapper] = await a.evaluate(() => {

        const source = document.querySelectorAll('turbo-socket-stream-source')[1]!;
        return [source.getAttribute('signed-stream-name')!, source.nextElementSibling!.id];
    });
    await b.evaluate(([signedName, id]) => {

        const stolen = document.createElement('turbo-socket-stream-source');
        stolen.id = 'stolen';
        stolen.setAttribute('signed-stream-name', signedName!);
        const copy = Object.assign(document.createElement('div'), { id, textContent: 'untouched' });
        document.body.append(stolen, copy);
    }, [signed, wrapper]);
    await expect(b.locator('#stolen')).toHaveAttribute('error', 'forbidden');

    await a.getByRole('button', { name: '+1' }).click();
    await expect(counter(a)).toHaveText('1');
    await expect(counter(a2)).toHaveText('1');
    await a2.getByRole('button', { name: '+1' }).click();
    await expect(counter(a)).toHaveText('2');
    await expect(counter(a2)).toHaveText('2');

    await b.getByRole('button', { name: '+1' }).click();
    await expect(counter(b)).toHaveText('1');
    await expect(counter(a)).toHaveText('2');
    await expect(b.locator(`#${wrapper}`).last()).toHaveText('untouched');
    expect(await b.locator(`[id="${wrapper}"]`).count()).toBe(1);
});


test('a first-time visitor who arrives through the room list\'s link gets a live counter, without a reload', async ({ windows: { a } }) => {

    const refusals: string[] = [];
    a.on('console', (message) => {

        if (message.text().includes('subscription refused')) {
            refusals.push(message.text());
        }
    });

    // The room list opens the socket before the visitor has a cookie; Turbo Drive keeps it
    await a.goto('/');
    await waitForStreamsConnected(a);
    expect((await a.context().cookies()).map((cookie) => cookie.name)).not.toContain('visitor');
    await a.evaluate(() => Object.assign(window, { sameDocument: true }));

    await a.getByRole('link', { name: 'Components demo' }).click();
    await expect(a).toHaveURL(/\/components$/);
    expect((await a.context().cookies()).map((cookie) => cookie.name)).toContain('visitor');
    await waitForStreamsConnected(a);
    await expect(counter(a)).toHaveText('0');

    await a.getByRole('button', { name: '+1' }).click();
    await expect(counter(a)).toHaveText('1');
    await a.getByRole('button', { name: '+1' }).click();
    await expect(counter(a)).toHaveText('2');
    expect(await a.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(refusals).toEqual([]);
});


test('a component shown twice on a page updates both', async ({ windows: { a } }) => {

    await openComponents(a);
    await a.evaluate(() => {

        // The same component printed again further down, as a page that shows it twice would
        const wrapper = document.querySelector('.counter')!.closest('.turbo-component')!;
        document.body.append(wrapper.cloneNode(true));
    });
    await expect(counter(a)).toHaveCount(2);
    const before = Number(await counter(a).first().textContent());

    await a.getByRole('button', { name: '+1' }).click();
    await expect(counter(a)).toHaveText([String(before + 1), String(before + 1)]);
});
