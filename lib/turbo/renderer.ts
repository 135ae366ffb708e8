import { extname } from 'node:path';

import { escapeHtml } from './escape.ts';
import { serializeFragment, type Fragment } from './fragment.ts';
import { toViewContext } from './view-context.ts';

/** Renders one template with its context; hapi-turbo passes vision's manager with the layout off. */
export type TemplateRenderer = (template: string, context: object) => Promise<string>;

export type FragmentInput = Fragment | string;


const renderContent = async function (fragment: Fragment, renderTemplate: TemplateRenderer): Promise<string> {

    const content = fragment.content;
    if (content === undefined) {
        return '';
    }

    if ('template' in content) {
        return await renderTemplate(content.template, toViewContext(content.context ?? {}));
    }

    if ('text' in content) {
        return escapeHtml(content.text);
    }

    return String(content.html);
};


/**
 * The single rendering path: every broadcast and every HTTP stream reply goes through here, once,
 * whatever the number of receivers. Strings are taken as already serialised <turbo-stream> markup.
 */
export const renderFragments = async function (fragments: readonly FragmentInput[], renderTemplate: TemplateRenderer): Promise<string> {

    const parts = await Promise.all(fragments.map(async (fragment) => {

        if (typeof fragment === 'string') {
            return fragment;
        }

        return serializeFragment(fragment, await renderContent(fragment, renderTemplate));
    }));

    return parts.join('');
};


/** The parts of vision's views manager the cached path uses (vision 7; `_prepare` and `_render` are what `server.render` calls). */
export interface VisionManager {
    getEngine(extension?: string): { config?: { isCached?: boolean } } | undefined;
    _prepare?(template: string, options: object): Promise<object>;
    _render?(compiled: object, context: object): Promise<string>;
}

const MAX_PREPARED = 1000;


// vision's own flag, per engine: false (development) reloads templates and partials on every render
const isCached = function (manager: VisionManager, template: string): boolean {

    try {
        return manager.getEngine(extname(template).slice(1) || undefined)?.config?.isCached !== false;
    }
    catch {
        return false;                                       // Several engines and no default: vision decides
    }
};


/**
 * Renders templates the way `server.render(template, context, { layout: false })` does, but looks
 * each one up once. vision finds the file (an fs.stat on the thread pool, so at least one more
 * event-loop turn and a thread shared with sqlite) and merges its settings on every call, even when
 * it keeps the compiled template; broadcasts render the same few templates over and over. The
 * prepared template is kept per name while vision caches that engine's templates (its `isCached`,
 * on by default); with `isCached: false` every render goes through `render` and sees edits.
 */
export const cachedTemplates = function (managerOf: () => VisionManager | null | undefined, render: TemplateRenderer): TemplateRenderer {

    const prepared = new Map<string, Promise<object>>();
    return async (template, context) => {

        const manager = managerOf();
        if (!manager?._prepare || !manager._render || !isCached(manager, template)) {
            return await render(template, context);
        }

        let compiled = prepared.get(template);
        if (!compiled) {
            if (prepared.size >= MAX_PREPARED) {
                prepared.clear();
            }

            compiled = manager._prepare(template, { layout: false });
            prepared.set(template, compiled);
            compiled.catch(() => prepared.delete(template));   // A missing file is looked for again next time
        }

        return await manager._render(await compiled, context);
    };
};
