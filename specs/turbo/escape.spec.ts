import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { Server } from '@hapi/hapi';

import { escapeHtml, TrustedHtml } from '../../lib/turbo/escape.ts';
import { TurboStream } from '../../lib/turbo/fragment.ts';
import type { MemoryTransport } from '../../lib/turbo/index.ts';
import { parseTurboStreams, unescapeHtml } from '../../lib/turbo/parse.ts';
import { turboServer } from '../support/fixture.ts';

// escapeHtml() is the one escape of hapi-turbo: fragments (fragment.ts, renderer.ts) and helpers
// (helpers.ts) put every value through it, always inside double quotes or as text. What each of
// those prints is in fragment.spec.ts and helpers.spec.ts; here the function itself, then a value
// that tries to leave its attribute through a real server.

const ASCII = Array.from({ length: 128 }, (_, code) => String.fromCharCode(code)).join('');
const HOSTILE = '"><script>alert(1)</script><p a=\'x\' b="y">&amp; &#39; &lt;';


describe('escapeHtml()', () => {

    it('replaces the five characters that end text or a quoted attribute, and only those', () => {

        assert.equal(escapeHtml('&'), '&amp;');
        assert.equal(escapeHtml('<'), '&lt;');
        assert.equal(escapeHtml('>'), '&gt;');
        assert.equal(escapeHtml('"'), '&quot;');
        assert.equal(escapeHtml('\''), '&#39;');
        assert.equal(escapeHtml('a<b>&"c\'d'), 'a&lt;b&gt;&amp;&quot;c&#39;d');

        const others = ASCII.replace(/[&<>"']/g, '');
        assert.equal(others.length, 123);
        assert.equal(escapeHtml(others), others, 'every other ASCII character, controls, = and ` included, is left as it is');
        assert.doesNotMatch(escapeHtml(ASCII), /[<>"']/);
    });

    it('prints null and undefined as nothing, and numbers, booleans, objects and arrays as String() does', () => {

        assert.equal(escapeHtml(null), '');
        assert.equal(escapeHtml(undefined), '');
        assert.equal(escapeHtml(''), '');
        assert.equal(escapeHtml(0), '0', 'a falsy value is not blank');
        assert.equal(escapeHtml(false), 'false');
        assert.equal(escapeHtml(-1.5), '-1.5');
        assert.equal(escapeHtml(Number.NaN), 'NaN');
        assert.equal(escapeHtml(12n), '12');
        assert.equal(escapeHtml({}), '[object Object]');
        assert.equal(escapeHtml(['a', '<b>']), 'a,&lt;b&gt;');
        assert.equal(escapeHtml({ toString: () => '"quoted"' }), '&quot;quoted&quot;', 'what toString() returns is escaped');
    });

    it('leaves astral characters, combining marks and lone surrogates whole', () => {

        const text = '😀 𝒳 é 👩‍👩‍👧 \uD800 <';
        assert.equal(escapeHtml(text), '😀 𝒳 é 👩‍👩‍👧 \uD800 &lt;');
        assert.equal([...escapeHtml('𝒳😀')].length, 2);
    });

    it('escapes input that looks escaped again: no entity is taken as already safe', () => {

        assert.equal(escapeHtml('&amp;'), '&amp;amp;');
        assert.equal(escapeHtml('&lt;script&gt;'), '&amp;lt;script&amp;gt;');
        assert.equal(escapeHtml('&#39; &#x27; &quot'), '&amp;#39; &amp;#x27; &amp;quot');
        assert.equal(escapeHtml(escapeHtml('<')), '&amp;lt;');
    });

    it('is undone by one unescape, whatever the input', () => {

        for (const value of [HOSTILE, ASCII, '&amp;amp;', '😀 &#128512;']) {
            assert.equal(unescapeHtml(escapeHtml(value)), value);
        }
    });
});


describe('TrustedHtml', () => {

    it('gives back its html unchanged, as .html, String() and in a template literal', () => {

        const trusted = new TrustedHtml(HOSTILE);
        assert.equal(trusted.html, HOSTILE);
        assert.equal(String(trusted), HOSTILE);
        assert.equal(`${trusted}`, HOSTILE);
    });
});


describe('through a real server', () => {

    let server: Server;

    before(async () => {

        server = await turboServer();
        server.route({ method: 'POST', path: '/reply', handler: (request, h) => h.turboStream(TurboStream.action('notify', undefined, undefined, { attributes: { message: request.payload as string } })) });
        await server.initialize();
    });

    after(async () => {

        await server.stop();
    });

    // The attributes a real server prints must be exactly those given: a quote in a value that
    // closed the attribute would add others (onmouseover) or end the tag early
    const expectAttributes = function (markup: string, expected: Record<string, string>) {

        const open = /^<turbo-stream\b[^>]*>/.exec(markup)![0];
        assert.equal(open.match(/="/g)!.length, Object.keys(expected).length, `one quoted value per attribute in ${open}`);
        const [fragment, ...more] = parseTurboStreams(markup);
        assert.equal(more.length, 0);
        const { action, target, targets, attributes } = fragment!;
        assert.deepEqual({ action, ...target === undefined ? {} : { target }, ...targets === undefined ? {} : { targets }, ...attributes }, expected);
    };

    const attack = {
        'data-note': '" onmouseover="alert(1)',
        title: '\' onfocus=\'alert(2)',
        'aria-label': HOSTILE
    };

    it('inserts TrustedHtml verbatim as fragment html, read back the same, while escapeHtml() still escapes it', async () => {

        const markup = await server.turbo.render(TurboStream.update({ id: 'box' }, { html: new TrustedHtml('<b title="x">bold</b> &amp;') }));
        assert.deepEqual(parseTurboStreams(markup).map((fragment) => fragment.html), ['<b title="x">bold</b> &amp;']);
        assert.equal(escapeHtml(new TrustedHtml('<b>')), '&lt;b&gt;', 'trust is the fragment\'s to honour, not the escape\'s');
    });

    it('keeps an attribute value that tries to leave its quotes inside them, in render() and broadcast()', async () => {

        const fragments = [
            TurboStream.replace({ id: '" autofocus onfocus="alert(3)' }, { text: '</template></turbo-stream><turbo-stream action="remove" target="all">' }, { attributes: attack }),
            TurboStream.remove({ selector: 'li[data-x="1"], \'><img src=x>' }, { attributes: attack })
        ];

        const [replace, remove] = await Promise.all(fragments.map((fragment) => server.turbo.render(fragment)));
        expectAttributes(replace!, { action: 'replace', target: '" autofocus onfocus="alert(3)', ...attack });
        assert.deepEqual(parseTurboStreams(replace!).map((fragment) => unescapeHtml(fragment.html)), ['</template></turbo-stream><turbo-stream action="remove" target="all">']);
        expectAttributes(remove!, { action: 'remove', targets: 'li[data-x="1"], \'><img src=x>', ...attack });

        await server.turbo.broadcast('room', ...fragments);
        const [record] = (server.turbo.transport as MemoryTransport).published;
        assert.equal(record!.html, replace! + remove!, 'a broadcast carries the same markup');
    });

    it('keeps it inside its quotes in a Turbo Stream reply', async () => {

        const res = await server.inject({ method: 'POST', url: '/reply', payload: HOSTILE, headers: { 'content-type': 'text/plain' } });
        assert.equal(res.statusCode, 200);
        expectAttributes(res.payload, { action: 'notify', message: HOSTILE });
    });
});
