import { createTest, expect } from 'hapi-turbo/playwright';

import { addRoom, chatApp, countStreams, edit, openRoom, send, streamCounts, texts } from './chat-pages.ts';

// toOthers: the window that edits a message updates itself from the HTTP answer; the broadcast
// skips its socket (X-Turbo-Socket-Id), which gets an empty placeholder, and reaches the others.

const test = createTest({ app: chatApp });

test('an edit reaches the editor\'s window from its HTTP answer only, and the other window from the socket', async ({ windows: { a, b } }) => {

    const room = await addRoom(a);
    await openRoom(a, room);
    await openRoom(b, room);
    await send(a, 'first draft');
    await expect(texts(b)).toHaveText(['first draft']);
    await countStreams(a);
    await countStreams(b);

    await edit(a, 'first draft', 'final text');
    await expect(texts(a)).toHaveText(['final text']);
    await expect(texts(b)).toHaveText(['final text']);

    const isReplace = (html: string) => html.includes('action="replace"');
    await expect.poll(async () => (await streamCounts(b)).socket.filter(isReplace).length).toBe(1);
    const editor = await streamCounts(a);
    expect(editor.socket.filter(isReplace)).toEqual([]);
    expect(editor.rendered.filter((item) => item.startsWith('replace '))).toHaveLength(1);          // The HTTP answer

    // The placeholder kept the editor's seqs gap-free: the next message is applied at once, no refresh
    await send(b, 'after the edit');
    await expect(texts(a)).toHaveText(['final text', 'after the edit']);
    expect((await streamCounts(a)).refreshes).toBe(0);
    expect((await streamCounts(a)).socket.filter((html) => html.includes('after the edit'))).toHaveLength(1);
});
