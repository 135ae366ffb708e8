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
