import { createTest, expect, goto, waitForStreamsConnected } from 'hapi-turbo/playwright';

import { createFixture } from '../support/fixture.ts';

// The stream source element against a server started in this worker, so the spec can write rows
// and look at the server's rooms directly.

const test = createTest({
    app: async () => {

        const app = await createFixture();
        app.server.route({
            method: 'GET',
            path: '/elements/{id}',
            handler: async (request, h) => h.view('blog/elements', {
                topic: await app.Topic.findByPk(Number(request.params.id)),
                forbidden: request.query.forbidden === '1'
            })
        });

        return app;
    }
});


test('two elements on one stream subscribe once, apply each message once, and removing one keeps the other fed', async ({ app, page }) => {

    const topic = await app.Topic.create({ title: 'News' });
    const room = () => app.server.turbo.io!.of('/turbo').adapter.rooms.get(topic.stream.name)?.size ?? 0;

    await page.addInitScript(() => {

        const counts = { connected: 0 };
        Object.assign(window, { sourceEvents: counts });
        document.addEventListener('turbo-stream-source:connected', () => ++counts.connected);
    });
    await goto(page, `/elements/${topic.id}`);
    expect(room()).toBe(1);
    expect(await page.evaluate(() => (window as unknown as { sourceEvents: { connected: number } }).sourceEvents.connected)).toBe(2);

    await app.Post.create({ body: 'first', topicId: topic.id });
    await expect(page.locator('#posts li')).toHaveText(['first']);

    await page.locator('#first').evaluate((element) => element.remove());
    await app.Post.create({ body: 'second', topicId: topic.id });
    await expect(page.locator('#posts li')).toHaveText(['first', 'second']);
    expect(room()).toBe(1);

    await page.locator('#second').evaluate((element) => element.remove());
    await expect.poll(room).toBe(0);
    await app.Post.create({ body: 'unheard', topicId: topic.id });
    await app.server.turbo.drain();
    await expect(page.locator('#posts li')).toHaveText(['first', 'second']);
});


test('a refused subscription is marked on the element and does not disturb the others', async ({ app, page }) => {

    const topic = await app.Topic.create({ title: 'News' });
    await page.goto(`/elements/${topic.id}?forbidden=1`);
    await expect(page.locator('#forbidden turbo-socket-stream-source')).toHaveAttribute('error', 'forbidden');
    await expect(page.locator('#first turbo-socket-stream-source')).toHaveAttribute('connected', '');

    await app.Post.create({ body: 'still live', topicId: topic.id });
    await expect(page.locator('#posts li')).toHaveText(['still live']);
});


test('resubscribes after the connection drops', async ({ app, page }) => {

    const topic = await app.Topic.create({ title: 'News' });
    await goto(page, `/elements/${topic.id}`);

    const source = page.locator('#first turbo-socket-stream-source');
    app.server.turbo.io!.of('/turbo').disconnectSockets();
    await expect(source).not.toHaveAttribute('connected', '');
    await waitForStreamsConnected(page);

    await app.Post.create({ body: 'after reconnect', topicId: topic.id });
    await expect(page.locator('#posts li')).toHaveText(['after reconnect']);
});
