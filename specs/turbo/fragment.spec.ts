import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { TrustedHtml } from '../../lib/turbo/escape.ts';
import { FragmentError, serializeFragment, TurboStream, type Fragment } from '../../lib/turbo/fragment.ts';
import { renderFragments } from '../../lib/turbo/renderer.ts';
import { collect, createFixture, eventually } from '../support/fixture.ts';

const noTemplates = () => Promise.reject(new Error('no templates here'));
const render = (...fragments: Fragment[]) => renderFragments(fragments, noTemplates);


describe('TurboStream builders', () => {

    for (const action of ['append', 'prepend', 'replace', 'update', 'before', 'after'] as const) {
        it(`${action} wraps its content in a template`, async () => {

            assert.equal(await render(TurboStream[action]({ id: 'messages' }, { text: 'Hi' })),
                `<turbo-stream action="${action}" target="messages"><template>Hi</template></turbo-stream>`);
        });
    }

    it('remove and refresh have no template', async () => {

        assert.equal(await render(TurboStream.remove({ id: 'message-1' })), '<turbo-stream action="remove" target="message-1"></turbo-stream>');
        assert.equal(await render(TurboStream.refresh()), '<turbo-stream action="refresh"></turbo-stream>');
        assert.equal(await render(TurboStream.refresh({ requestId: 'abc-1' })), '<turbo-stream action="refresh" request-id="abc-1"></turbo-stream>');
    });

    it('targets by id or by CSS selector', async () => {

        assert.equal(await render(TurboStream.remove({ selector: '#room_list li' })), '<turbo-stream action="remove" targets="#room_list li"></turbo-stream>');
    });

    it('refuses both targets, neither, or empty ones', () => {

        assert.throws(() => TurboStream.append({ id: 'a', selector: '.b' } as never, { text: '' }), FragmentError);
        assert.throws(() => TurboStream.append({} as never, { text: '' }), /exactly one of/);
        assert.throws(() => TurboStream.remove({ id: '' }), FragmentError);
        assert.throws(() => TurboStream.remove(undefined as never), /needs a target/);
    });

    it('morphs replace and update, and nothing else', async () => {

        assert.equal(await render(TurboStream.replace({ id: 'm' }, { text: 'x' }, { method: 'morph' })),
            '<turbo-stream action="replace" target="m" method="morph"><template>x</template></turbo-stream>');
        assert.match(await render(TurboStream.update({ id: 'm' }, { text: 'x' }, { method: 'morph' })), /method="morph"/);
        assert.throws(() => TurboStream.append({ id: 'm' }, { text: 'x' }, { method: 'morph' }), /replace and update/);
        assert.throws(() => TurboStream.replace({ id: 'm' }, { text: 'x' }, { method: 'swap' as never }), FragmentError);
    });

    it('adds extra attributes, escaped, leaving out false and null', async () => {

        const html = await render(TurboStream.append({ id: 'x' }, { text: '' }, { attributes: { 'data-a': '"><script>', hidden: true, skip: false, none: null } }));
        assert.equal(html, '<turbo-stream action="append" target="x" data-a="&quot;&gt;&lt;script&gt;" hidden><template></template></turbo-stream>');
        assert.throws(() => TurboStream.append({ id: 'x' }, { text: '' }, { attributes: { target: 'y' } }), /cannot take/);
        assert.throws(() => TurboStream.append({ id: 'x' }, { text: '' }, { attributes: { 'bad name': 'y' } }), /cannot take/);
    });

    it('writes booleans as turbo-rails does: "true"/"false" for aria-* and data-*, bare HTML boolean attributes, "true" for the rest', async () => {

        const html = await render(TurboStream.action('toggle', { id: 'x' }, undefined, { attributes: {
            'aria-checked': true, 'aria-expanded': false, 'data-sticky': true, 'data-seen': false, 'DATA-UPPER': true,
            hidden: true, disabled: false, sticky: true, skip: false
        } }));
        assert.equal(html, '<turbo-stream action="toggle" target="x" aria-checked="true" aria-expanded="false" data-sticky="true" data-seen="false" DATA-UPPER="true" hidden sticky="true"><template></template></turbo-stream>');

        // And so they reach a subscriber, for its custom action to read
        const fixture = await (await createFixture()).start();
        try {
            const socket = await fixture.client();
            const received = collect(socket);
            assert.deepEqual(await fixture.subscribe(socket, fixture.server.turbo.signedStreamName('switches')), { ok: true, stream: 'switches' });
            await fixture.server.turbo.broadcast('switches', TurboStream.action('toggle', { id: 'x' }, undefined, { attributes: { 'aria-checked': true, 'data-sticky': false, hidden: true } }));
            await eventually(() => assert.equal(received.length, 1));
            assert.equal(received[0]!.html, '<turbo-stream action="toggle" target="x" aria-checked="true" data-sticky="false" hidden><template></template></turbo-stream>');
        }
        finally {
            await fixture.close();
        }
    });

    it('escapes every attribute value and all text', async () => {

        const html = await render(TurboStream.replace({ id: '"><img src=x onerror=alert(1)>' }, { text: '<script>alert("x")</script> & \'' }));
        assert.equal(html, '<turbo-stream action="replace" target="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"><template>' +
            '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;</template></turbo-stream>');
        assert.match(await render(TurboStream.remove({ selector: 'li[data-x="1"]' })), /targets="li\[data-x=&quot;1&quot;\]"/);
    });

    it('inserts html content verbatim, trusted or plain', async () => {

        assert.match(await render(TurboStream.update({ id: 'x' }, { html: '<b>bold</b>' })), /<template><b>bold<\/b><\/template>/);
        assert.match(await render(TurboStream.update({ id: 'x' }, { html: new TrustedHtml('<i>i</i>') })), /<template><i>i<\/i><\/template>/);
    });

    it('refuses ambiguous or misplaced content', () => {

        assert.throws(() => TurboStream.update({ id: 'x' }, { text: 'a', html: 'b' } as never), /exactly one of/);
        assert.throws(() => TurboStream.update({ id: 'x' }, { template: 42 } as never), /must be a string/);
    });

    it('builds custom actions, with or without a target', async () => {

        assert.equal(await render(TurboStream.action('highlight', { id: 'message-3' })),
            '<turbo-stream action="highlight" target="message-3"><template></template></turbo-stream>');
        assert.equal(await render(TurboStream.action('notify', undefined, { text: 'saved' }, { attributes: { level: 'info' } })),
            '<turbo-stream action="notify" level="info"><template>saved</template></turbo-stream>');
        assert.throws(() => TurboStream.action('append', { id: 'x' }), /built-in/);
        assert.throws(() => TurboStream.action('bad action"', { id: 'x' }), /invalid action/);
    });

    it('concatenates several fragments in order', async () => {

        const html = await render(TurboStream.remove({ id: 'a' }), TurboStream.append({ id: 'b' }, { text: '1' }));
        assert.equal(html, '<turbo-stream action="remove" target="a"></turbo-stream><turbo-stream action="append" target="b"><template>1</template></turbo-stream>');
    });

    it('renders templates through the renderer it is given, once per fragment', async () => {

        const calls: [string, object][] = [];
        const html = await renderFragments([TurboStream.append({ id: 'x' }, { template: 'list/item', context: { n: 1 } }), '<turbo-stream action="refresh"></turbo-stream>'], (template, context) => {

            calls.push([template, context]);
            return Promise.resolve('<li>1</li>');
        });

        assert.deepEqual(calls, [['list/item', { n: 1 }]]);
        assert.equal(html, '<turbo-stream action="append" target="x"><template><li>1</li></template></turbo-stream><turbo-stream action="refresh"></turbo-stream>');
    });

    it('serializes a frozen fragment', () => {

        const fragment = TurboStream.remove({ id: 'a' });
        assert.ok(Object.isFrozen(fragment));
        assert.equal(serializeFragment(fragment, 'ignored'), '<turbo-stream action="remove" target="a"></turbo-stream>');
    });
});
