import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { TurboStream } from '../../lib/turbo/fragment.ts';
import { parseTurboStreams, unescapeHtml } from '../../lib/turbo/parse.ts';
import { renderFragments } from '../../lib/turbo/renderer.ts';


describe('parseTurboStreams()', () => {

    it('reads back what the builder writes', async () => {

        const markup = await renderFragments([
            TurboStream.append({ id: 'a"b' }, { html: '<template><p>nested</p></template><turbo-stream action="x"></turbo-stream>' }, { attributes: { 'data-n': '1 & 2' } }),
            TurboStream.remove({ selector: '#list li' }),
            TurboStream.refresh({ requestId: 'r-1' }),
            TurboStream.replace({ id: 'm' }, { text: '<script>' }, { method: 'morph' })
        ], () => Promise.reject(new Error('unused')));

        assert.deepEqual(parseTurboStreams(markup), [
            { action: 'append', target: 'a"b', attributes: { 'data-n': '1 & 2' }, html: '<template><p>nested</p></template><turbo-stream action="x"></turbo-stream>' },
            { action: 'remove', targets: '#list li', attributes: {}, html: '' },
            { action: 'refresh', attributes: { 'request-id': 'r-1' }, html: '' },
            { action: 'replace', target: 'm', attributes: { method: 'morph' }, html: '&lt;script&gt;' }
        ]);
    });

    it('reads hand-written markup: single quotes, bare attributes, whitespace', () => {

        assert.deepEqual(parseTurboStreams('\n<turbo-stream action=\'update\' target=box hidden>\n  <template>Hi</template>\n</turbo-stream>\n'), [
            { action: 'update', target: 'box', attributes: { hidden: '' }, html: 'Hi' }
        ]);
        assert.deepEqual(parseTurboStreams('no streams here'), []);
    });

    it('unescapes entities', () => {

        assert.equal(unescapeHtml('&lt;a&gt; &amp; &quot;b&quot; &#39;c&#39; &#x3D; &unknown;'), '<a> & "b" \'c\' = &unknown;');
    });
});
