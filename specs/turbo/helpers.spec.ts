import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import Handlebars from 'handlebars';

import { createHelpers, ELEMENT } from '../../lib/turbo/helpers.ts';
import { plainStream } from '../../lib/turbo/plain-stream.ts';
import { SOCKET_ID_HEADER } from '../../lib/turbo/request-context.ts';

// The template helpers on a bare Handlebars instance: what each prints, escaping, and errors. Pages
// rendered by a real server are in plugin.spec.ts.


const render = function (template: string, context: object = {}, assetsPath = '/_turbo'): string {

    const handlebars = Handlebars.create();
    const helpers = createHelpers({
        subscription: (streamable) => ({ signed: `signed(${String(streamable)})`, epoch: streamable === 'fresh' ? '' : 'e1', seq: 3 }),
        assetsPath,
        socketPath: '/socket.io'
    });
    for (const [name, helper] of Object.entries(helpers)) {
        handlebars.registerHelper(name, helper as Handlebars.HelperDelegate);
    }

    return handlebars.compile(template)(context);
};


describe('template helpers', () => {

    it('{{turbo_subscribe}} prints one element per stream, escaped, with its position when known', () => {

        assert.equal(render('{{turbo_subscribe "a" names}}', { names: ['"b"', null, 'fresh'] }), [
            `<${ELEMENT} signed-stream-name="signed(a)" epoch="e1" seq="3"></${ELEMENT}>`,
            `<${ELEMENT} signed-stream-name="signed(&quot;b&quot;)" epoch="e1" seq="3"></${ELEMENT}>`,
            `<${ELEMENT} signed-stream-name="signed(fresh)"></${ELEMENT}>`
        ].join(''));
    });

    it('{{turbo_subscribe}} with nothing but blanks is an error', () => {

        assert.throws(() => render('{{turbo_subscribe nothing ""}}', { nothing: null }), /turbo_subscribe needs one or more streams that are not blank/);
    });

    it('{{turbo_plain_stream}} joins its parts into one stream name', () => {

        const joined = plainStream('room', 4, 'messages');
        assert.equal(render('{{turbo_subscribe (turbo_plain_stream "room" 4 "messages")}}'), `<${ELEMENT} signed-stream-name="signed(${String(joined)})" epoch="e1" seq="3"></${ELEMENT}>`);
    });

    it('{{turbo_head}} prints the socket path and the scripts under assetsPath; scripts=false leaves them out', () => {

        const head = render('{{turbo_head}}', {}, '/assets"x');
        assert.match(head, /<meta name="hapi-turbo-socket-path" content="\/socket.io">/);
        assert.match(head, /<script type="module" src="\/assets&quot;x\/hapi-turbo.js"><\/script>/);
        assert.doesNotMatch(render('{{turbo_head scripts=false}}'), /<script/);
    });

    it('{{turbo_refreshes_with}} hands its choice to {{turbo_head}} and refuses other values', () => {

        const head = render('{{turbo_refreshes_with method="morph" scroll="preserve"}}{{turbo_head scripts=false}}');
        assert.match(head, /<meta name="turbo-refresh-method" content="morph">/);
        assert.match(head, /<meta name="turbo-refresh-scroll" content="preserve">/);
        assert.throws(() => render('{{turbo_refreshes_with method="swap"}}'), /turbo_refreshes_with takes/);
    });

    it('{{turbo_component}} without a component resolver or a name is an error', () => {

        assert.throws(() => render('{{turbo_component "chat:Alert"}}'), /turbo_component needs a component/);
    });

    it('the element name and the socket-id header are those the browser element uses', () => {

        // static/turbo/hapi-turbo.js is served as is and cannot import the server's constants
        const client = readFileSync(new URL('../../static/turbo/hapi-turbo.js', import.meta.url), 'utf8');
        assert.match(client, new RegExp(`const ELEMENT = '${ELEMENT}';`));
        assert.match(client, new RegExp(`const SOCKET_ID_HEADER = '${SOCKET_ID_HEADER}';`, 'i'));
    });
});
