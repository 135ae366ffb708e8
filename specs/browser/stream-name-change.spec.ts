import { createTest, expect, waitForStreamsConnected } from 'hapi-turbo/playwright';
import { TurboStream } from 'hapi-turbo';

import { createFixture, type Fixture } from '../support/fixture.ts';

// A live <turbo-socket-stream-source> whose signed-stream-name changes, as turbo-rails' element
// allows: by a script, or by a page refresh that morphs the element into one naming another stream.
// The element must move to the new stream, from the position printed with it or from now, stop
// hearing the old one, and never refresh the page for it.

const test = createTest({
    app: async () => {

        const app = Object.assign(await createFixture(), { shown: { id: 0 } });
        app.server.route({
            method: 'GET',
            path: '/switch',
            handler: async (request, h) => h.view('blog/switch', { topic: await app.Topic.findByPk(app.shown.id) })
        });

        return app;
    }
});


interface Seen {
    visits: number;
    refreshes: number;
    marker?: string;
}

// Counted per document: a reload starts them again and drops the marker
const countTurboEvents = () => {

    const seen: Seen = { visits: 0, refreshes: 0 };
    Object.assign(window, { seen });
    document.addEventListener('turbo:visit', () => ++seen.visits);
    document.addEventListener('turbo-stream-source:refresh', () => ++seen.refreshes);
};

const seenIn = (page: import('@playwright/test').Page) => page.evaluate(() => (window as unknown as { seen: Seen }).seen);


const setup = async function (app: Fixture & { shown: { id: number } }, page: import('@playwright/test').Page) {

    const [oldTopic, newTopic] = [await app.Topic.create({ title: 'Old' }), await app.Topic.create({ title: 'New' })];
    // The new stream has a history of its own, so its positions and the old one's differ
    await app.Post.create({ body: 'before the page', topicId: newTopic.id });
    await app.server.turbo.drain();

    app.shown.id = oldTopic.id;
    await page.addInitScript(countTurboEvents);
    await page.goto(`http://127.0.0.1:${app.server.info.port}/switch`);
    await waitForStreamsConnected(page);
    await page.evaluate(() => Object.assign((window as unknown as { seen: Seen }).seen, { marker: 'the first document' }));

    const room = (topic: typeof oldTopic) => () => app.server.turbo.io!.of('/turbo').adapter.rooms.get(topic.stream.name)?.size ?? 0;
    return { oldTopic, newTopic, oldRoom: room(oldTopic), newRoom: room(newTopic) };
};


// Posts on the old stream, then on the new one: frames reach a socket in the order they were sent,
// so once the new stream's post shows, the old one's would have shown too had it been delivered
const postOnBoth = async function (app: Fixture, oldId: number, newId: number, body: string) {

    await app.Post.create({ body: `${body} (old stream)`, topicId: oldId });
    await app.server.turbo.drain();
    await app.Post.create({ body: `${body} (new stream)`, topicId: newId });
    await app.server.turbo.drain();
};


test('a script changing only signed-stream-name moves the element to the new stream from now, without a refresh', async ({ app, page }) => {

    const { oldTopic, newTopic, oldRoom, newRoom } = await setup(app, page);
    const signed = app.server.turbo.signedStreamName(newTopic);

    // epoch and seq still say where the page stood on the old stream
    await page.locator('#source turbo-socket-stream-source').evaluate((element, name) => element.setAttribute('signed-stream-name', name), signed);
    await waitForStreamsConnected(page);
    await expect.poll(newRoom).toBe(1);
    await expect.poll(oldRoom).toBe(0);

    await postOnBoth(app, oldTopic.id, newTopic.id, 'live');
    await expect(page.locator('#posts li')).toHaveText(['live (new stream)']);
    expect(await seenIn(page)).toEqual({ visits: 0, refreshes: 0, marker: 'the first document' });
});


test('a new name set with its printed position replays what was broadcast since that position', async ({ app, page }) => {

    const { oldTopic, newTopic, oldRoom, newRoom } = await setup(app, page);
    const signed = app.server.turbo.signedStreamName(newTopic);
    const printed = app.server.turbo.position(newTopic);
    await app.Post.create({ body: 'between print and switch', topicId: newTopic.id });
    await app.server.turbo.drain();

    // In the order a morph sets them: the name first, then its position
    await page.locator('#source turbo-socket-stream-source').evaluate((element, { name, epoch, seq }) => {

        element.setAttribute('signed-stream-name', name);
        element.setAttribute('epoch', epoch);
        element.setAttribute('seq', String(seq));
    }, { name: signed, ...printed });
    await expect(page.locator('#posts li')).toHaveText(['between print and switch']);
    await expect.poll(newRoom).toBe(1);
    await expect.poll(oldRoom).toBe(0);

    await postOnBoth(app, oldTopic.id, newTopic.id, 'live');
    await expect(page.locator('#posts li')).toHaveText(['between print and switch', 'live (new stream)']);
    expect(await seenIn(page)).toEqual({ visits: 0, refreshes: 0, marker: 'the first document' });
});


test('a morphing page refresh that renders another stream moves the element to it, with no second refresh', async ({ app, page }) => {

    const { oldTopic, newTopic, oldRoom, newRoom } = await setup(app, page);

    // The page now shows the other topic; a refresh on the old stream makes the page fetch and morph it
    app.shown.id = newTopic.id;
    await app.server.turbo.broadcast(oldTopic, TurboStream.refresh({ requestId: null }));
    await expect(page.locator('#title')).toHaveText('New');
    await expect.poll(newRoom).toBe(1);
    await expect.poll(oldRoom).toBe(0);
    await waitForStreamsConnected(page);

    await postOnBoth(app, oldTopic.id, newTopic.id, 'live');
    await expect(page.locator('#posts li')).toHaveText(['live (new stream)']);
    expect(await seenIn(page)).toEqual({ visits: 1, refreshes: 0, marker: 'the first document' });
});
