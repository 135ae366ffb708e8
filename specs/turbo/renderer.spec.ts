import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';

import type { Server } from '@hapi/hapi';
import type { ServerViewsConfiguration } from '@hapi/vision';
import Handlebars from 'handlebars';

import { TurboStream } from '../../lib/turbo/fragment.ts';
import { renderFragments, type VisionManager } from '../../lib/turbo/renderer.ts';
import { turboServer } from '../support/fixture.ts';

// Templates as broadcasts and h.turboStream() render them, through vision. plugin.spec.ts shows a
// cached template surviving its file and isCached: false seeing an edit; fragment.spec.ts the markup.

const dirs: string[] = [];
const servers: Server[] = [];

// A views folder of its own, so its files can be edited and removed, and a server on it
const serverWith = async function (files: Record<string, string>, views: Omit<ServerViewsConfiguration, 'path'> = { engines: { html: Handlebars.create() } }) {

    const dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-renderer-'));
    dirs.push(dir);
    await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text)));
    const server = await turboServer({}, { ...views, path: dir } as ServerViewsConfiguration);
    servers.push(server);
    await server.initialize();
    const render = (template: string, context: object = {}) => server.turbo.render(TurboStream.update({ id: 'n' }, { template, context }));
    return { dir, server, render };
};

const wrapped = (html: string) => `<turbo-stream action="update" target="n"><template>${html}</template></turbo-stream>`;


describe('template rendering', () => {

    after(async () => {

        await Promise.all(servers.map((server) => server.stop()));
        await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    });

    for (const isCached of [true, false]) {
        it(`renders without the layout, escaped, with vision's global context (isCached: ${isCached})`, async () => {

            const { render } = await serverWith({ 'layout.html': '<html>{{{content}}}</html>', 'note.html': '<p>{{site}}: {{text}}</p>' }, {
                engines: { html: Handlebars.create() }, layout: true, isCached, context: { site: 'Forum' }
            });
            assert.equal(await render('note', { text: '<img src=x onerror=alert(1)> & "' }), wrapped('<p>Forum: &lt;img src&#x3D;x onerror&#x3D;alert(1)&gt; &amp; &quot;</p>'));
        });
    }

    it('looks a template up once for concurrent and later renders, and a missing one again until it exists', async () => {

        const { dir, server, render } = await serverWith({ 'note.html': '<p>{{n}}</p>' });
        const manager = server.getViewsManager() as unknown as Required<VisionManager>;
        const prepare = manager._prepare.bind(manager);
        const prepared: string[] = [];
        manager._prepare = (template, options) => {

            prepared.push(template);
            return prepare(template, options);
        };

        assert.deepEqual(await Promise.all([1, 2, 3].map((n) => render('note', { n }))), [1, 2, 3].map((n) => wrapped(`<p>${n}</p>`)));
        assert.equal(await render('note', { n: 4 }), wrapped('<p>4</p>'));
        assert.deepEqual(prepared, ['note']);

        await assert.rejects(render('late'), /View file not found: `late.html`/);
        await writeFile(join(dir, 'late.html'), '<p>late</p>');
        assert.equal(await render('late'), wrapped('<p>late</p>'));
    });

    it('follows the isCached of each engine, and leaves a template of no engine to vision', async () => {

        const { dir, render } = await serverWith({ 'note.html': 'html one', 'note.hbs': 'hbs one' }, {
            engines: { html: { module: Handlebars.create(), isCached: false } as never, hbs: Handlebars.create() }     // vision's types lack per-engine settings
        });
        assert.deepEqual([await render('note.html'), await render('note.hbs')], [wrapped('html one'), wrapped('hbs one')]);
        await writeFile(join(dir, 'note.html'), 'html two');
        await writeFile(join(dir, 'note.hbs'), 'hbs two');
        assert.deepEqual([await render('note.html'), await render('note.hbs')], [wrapped('html two'), wrapped('hbs one')]);

        await assert.rejects(render('note'), /Unknown extension and no defaultExtension configured for view template: note/);
        await assert.rejects(render('note.txt'), /No view engine found for file: note.txt/);
    });

    it('keeps at most 1000 templates looked up, then starts again', async () => {

        const names = Array.from({ length: 1001 }, (_, index) => `t${index}`);
        const { dir, render } = await serverWith(Object.fromEntries(names.map((name) => [`${name}.html`, name])));
        for (const name of names.slice(0, 1000)) {
            await render(name);
        }

        await rm(join(dir, 't0.html'));
        assert.equal(await render('t0'), wrapped('t0'), 'still kept');
        assert.equal(await render('t1000'), wrapped('t1000'));
        await assert.rejects(render('t0'), /View file not found: `t0.html`/);
    });
});


describe('renderFragments()', () => {

    it('renders the templates of a message together and keeps the fragments in order', async () => {

        const events: string[] = [];
        const html = await renderFragments(['<turbo-stream action="refresh"></turbo-stream>', ...['slow', 'fast'].map((id) => TurboStream.update({ id }, { template: id }))], async (template) => {

            events.push(`start ${template}`);
            await sleep(template === 'slow' ? 20 : 0);
            events.push(`end ${template}`);
            return `<b>${template}</b>`;
        });

        assert.deepEqual(events, ['start slow', 'start fast', 'end fast', 'end slow']);
        assert.equal(html, '<turbo-stream action="refresh"></turbo-stream><turbo-stream action="update" target="slow"><template><b>slow</b></template></turbo-stream>' +
            '<turbo-stream action="update" target="fast"><template><b>fast</b></template></turbo-stream>');
    });
});
