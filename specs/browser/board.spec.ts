import { createTest, expect, expectConverged, recordStreamMessages, waitForStreamMessage } from 'hapi-turbo/playwright';
import { captureBroadcasts, drainBroadcasts } from 'hapi-turbo/testing';

import { createBoard } from '../support/board.ts';

// The harness on an app that is not the chat (specs/support/board.ts): three windows signed in as
// three users, writes from the test process and from a window, every window converging.

const USERS = ['ada', 'grace', 'linus'];

const test = createTest({
    app: createBoard,
    setupWindow: async (page, index) => {

        await page.goto(`/sign-in/${USERS[index]}`);
    }
});

test.use({ windowCount: 3 });

// The tests of a file share its app and database: each starts from an empty board
test.beforeEach(async ({ app }) => {

    await app.Note.destroy({ truncate: true });
});

const notes = (page: import('@playwright/test').Page) => page.locator('#notes li');


test('three windows as three users converge after a write from the test process and one from a window', async ({ app, windows }) => {

    await windows.goto('/');
    for (const [index, page] of windows.all.entries()) {
        await expect(page.locator('#user')).toHaveText(`Signed in as ${USERS[index]}`);
    }

    await app.Note.create({ author: 'the_test', text: 'written by the test process' });
    await expectConverged(windows.all, '#notes');
    await expect(notes(windows.all[2]!)).toHaveText(['the_test: written by the test process']);

    const grace = windows.all[1]!;
    await grace.getByLabel('Note').fill('posted by <grace>');
    await grace.getByRole('button', { name: 'Post' }).click();
    await expect(grace.getByLabel('Note')).toHaveValue('');
    await expectConverged(windows.all, '#notes');
    await expectConverged(windows.all, '#notes', { text: true });
    await expect(notes(windows.a)).toHaveText(['the_test: written by the test process', 'grace: posted by <grace>']);

    // What the third window applied: the two appends, on the board's stream, one seq each
    const appended = await waitForStreamMessage(windows.all[2]!, (message) => message.html.includes('posted by &lt;grace&gt;'));
    expect(appended).toMatchObject({ stream: 'board:BoardStream', action: 'append', target: 'notes', targets: null });
    const record = await recordStreamMessages(windows.all[2]!);
    const { seq } = app.server.turbo.position('board:BoardStream');
    expect(record.map((message) => [message.stream, message.seq, message.action])).toEqual([['board:BoardStream', seq - 1, 'append'], ['board:BoardStream', seq, 'append']]);
});


test('captureBroadcasts and drainBroadcasts of hapi-turbo/testing see the app the windows use', async ({ app, windows }) => {

    await windows.goto('/');
    const captured = await captureBroadcasts(() => app.Note.create({ author: 'the_test', text: 'captured' }));
    expect(captured.map((broadcast) => [broadcast.stream, broadcast.action, broadcast.target])).toEqual([['board:BoardStream', 'append', 'notes']]);
    await drainBroadcasts();
    await expectConverged(windows.all, '#notes');
    await expect(notes(windows.b)).toHaveText(['the_test: captured']);
});


test('waitForStreamMessage fails after its timeout, listing what the window applied', async ({ app, windows }) => {

    await windows.goto('/');
    await app.Note.create({ author: 'the_test', text: 'the only note' });
    await expectConverged(windows.all, '#notes');
    const error = await waitForStreamMessage(windows.a, (message) => message.action === 'remove', { timeout: 500 }).catch((failure: Error) => failure);
    expect(String(error)).toContain('waitForStreamMessage: no matching message within 500 ms; window 1 applied 1:');
    expect(String(error)).toMatch(/board:BoardStream #\d+: append notes/);
});
