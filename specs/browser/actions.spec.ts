import { createTest, expect } from 'hapi-turbo/playwright';

import { addRoom, chatApp, openRoom, send, texts } from './chat-pages.ts';

// A custom Turbo Stream action: a new message arrives with a `highlight` of itself, which the
// chat's StreamActions.highlight (static/chat/actions.js) plays as a short flash.

const test = createTest({ app: chatApp });

test('the other window sees a new message flash: the highlight class comes, then goes', async ({ windows: { a, b } }) => {

    const room = await addRoom(a);
    await openRoom(a, room);
    await openRoom(b, room);

    // The flash is brief: B records every element that gets the class, as it happens
    await b.evaluate(() => {

        const flashed: string[] = [];
        (window as unknown as { flashed: string[] }).flashed = flashed;
        new MutationObserver((mutations) => {

            for (const { target } of mutations) {
                if (target instanceof Element && target.classList.contains('highlight')) {
                    flashed.push(target.id);
                }
            }
        }).observe(document.getElementById('messages')!, { subtree: true, attributeFilter: ['class'] });
    });

    await send(a, 'look at me');
    await expect(texts(b)).toHaveText(['look at me']);
    const id = (await b.locator('#messages li').getAttribute('id'))!;
    await expect.poll(() => b.evaluate(() => (window as unknown as { flashed: string[] }).flashed)).toEqual([id]);
    await expect(b.locator(`#${id}`)).not.toHaveClass(/highlight/);
});
