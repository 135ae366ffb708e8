import { createTest, expect, goto } from 'hapi-turbo/playwright';

import { TurboStream } from '../../lib/turbo/index.ts';
import { createFixture } from '../support/fixture.ts';

// Refresh broadcasts in two real windows, against a server started in this worker: topics refresh
// their stream on every save (the default 500 ms debounce), and a page asks Turbo to morph.

const test = createTest({
    app: async () => {

        const app = await createFixture({ broadcastsRefreshes: { topic: true } });
        app.server.route([
            {
                method: 'GET',
                path: '/refresh/{id}',
                handler: async (request, h) => h.view('blog/refresh', { topic: await app.Topic.findByPk(Number(request.params.id)) })
            },
            {
                method: 'POST',
                path: '/refresh/{id}',
                handler: async (request, h) => {

                    const topic = (await app.Topic.findByPk(Number(request.params.id)))!;
                    const title = String((request.payload as { title?: string }).title);
                    await topic.update({ title });
                    // The window that saved shows the change from its own reply, without a visit
                    if (request.acceptsTurboStream) {
                        return h.turboStream(TurboStream.update({ id: 'title' }, { text: title }));
                    }

                    return h.redirect(`/refresh/${topic.id}`).code(303);
                }
            }
        ]);

        return app;
    }
});


interface Seen {
    visits: number;
    morphs: number;
    refreshes: string[];
}

// Counts, per document: a reload would start them again, and drop the marker the test sets
const countTurboEvents = () => {

    const seen: Seen = { visits: 0, morphs: 0, refreshes: [] };
    Object.assign(window, { seen });
    document.addEventListener('turbo:visit', () => ++seen.visits);
    document.addEventListener('turbo:morph', () => ++seen.morphs);
    document.addEventListener('turbo:before-stream-render', (event) => {

        const stream = (event as CustomEvent<{ newStream: Element }>).detail.newStream;
        if (stream.getAttribute('action') === 'refresh') {
            seen.refreshes.push(stream.getAttribute('request-id') ?? '');
        }
    });
};

const seenIn = (page: import('@playwright/test').Page) => page.evaluate(() => ({
    ...(window as unknown as { seen: Seen }).seen,
    marker: (window as unknown as { marker?: string }).marker ?? null
}));


test('a save through a Turbo form refreshes the other window, by morphing, and not the window that saved', async ({ app, windows: { a, b } }) => {

    const topic = await app.Topic.create({ title: 'Before' });
    await app.server.turbo.drain();
    for (const page of [a, b]) {
        await page.addInitScript(countTurboEvents);
        await goto(page, `/refresh/${topic.id}`);
        await page.evaluate(() => Object.assign(window, { marker: 'still the first document' }));
    }

    await a.locator('#new-title').fill('After');
    await a.locator('#save').click();
    await expect(a.locator('#title')).toHaveText('After');

    // B hears the refresh once the debounce window is over, fetches the page again and morphs it
    await expect(b.locator('#title')).toHaveText('After');
    await expect.poll(async () => (await seenIn(b)).morphs).toBeGreaterThan(0);
    const inB = await seenIn(b);
    expect(inB.visits).toBe(1);
    expect(inB.refreshes).toHaveLength(1);
    expect(inB.refreshes[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(inB.marker).toBe('still the first document');

    // A received the same message, carrying the id of its own request, and Turbo skipped it
    await expect.poll(async () => (await seenIn(a)).refreshes).toEqual(inB.refreshes);
    await a.waitForTimeout(1000);
    expect(await seenIn(a)).toEqual({ visits: 0, morphs: 0, refreshes: inB.refreshes, marker: 'still the first document' });
});
