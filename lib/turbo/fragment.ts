import { escapeHtml, TrustedHtml } from './escape.ts';
import { currentRequestId } from './request-context.ts';

// A fragment is one <turbo-stream> element before its content is rendered. Building is synchronous
// and validates everything; rendering (renderer.ts) is the only place templates run.

/** The media type of <turbo-stream> markup, in responses and in the Accept header of Turbo's form submissions. */
export const TURBO_STREAM_TYPE = 'text/vnd.turbo-stream.html';

export type Target = { id: string; selector?: never } | { selector: string; id?: never };

export type Content =
    | { template: string; context?: object }
    | { text: string | number }
    | { html: string | TrustedHtml };

export type AttributeValue = string | number | boolean | null | undefined;

export interface FragmentOptions {
    /** `'morph'` makes Turbo 8 morph the target instead of swapping it (replace and update only). */
    method?: 'morph' | 'replace';
    /**
     * Extra attributes on the <turbo-stream> element; values are escaped, null/undefined are left out.
     * Booleans as turbo-rails writes them: `aria-*` and `data-*` get `"true"`/`"false"`; HTML boolean
     * attributes (`hidden`, `disabled`…) are bare when true; any other gets `"true"`; false leaves both out.
     */
    attributes?: Record<string, AttributeValue>;
}

export interface RefreshFragmentOptions {
    /** Default: the current request's Turbo request id (none outside requests); null for none. */
    requestId?: string | null;
    attributes?: Record<string, AttributeValue>;
}

export interface Fragment {
    readonly action: string;
    readonly target?: string;
    readonly targets?: string;
    readonly attributes: Readonly<Record<string, string>>;
    readonly content?: Content;
}

/** The built-in actions that carry content in a <template>; `remove` and `refresh` carry none. */
export const CONTENT_ACTIONS = ['append', 'prepend', 'replace', 'update', 'before', 'after'] as const;
export type ContentAction = typeof CONTENT_ACTIONS[number];
const WITHOUT_TEMPLATE = new Set(['remove', 'refresh']);
const BUILTIN_ACTIONS = [...CONTENT_ACTIONS, ...WITHOUT_TEMPLATE] as readonly string[];

const MORPHABLE = new Set(['replace', 'update']);
const RESERVED_ATTRIBUTES = new Set(['action', 'target', 'targets']);
const ACTION_NAME = /^[A-Za-z][\w-]*$/;
const ATTRIBUTE_NAME = /^[A-Za-z_:][\w:.-]*$/;
// Their value is a string whatever it says: ARIA states read "true"/"false", data-* is read as text
const STRING_VALUED = /^(aria|data)-/i;
// HTML's boolean attributes (as in turbo-rails' tag helper): present means true, whatever the value
const BOOLEAN_ATTRIBUTES = new Set([
    'allowfullscreen', 'async', 'autofocus', 'autoplay', 'checked', 'controls', 'default', 'defer', 'disabled',
    'formnovalidate', 'hidden', 'inert', 'ismap', 'itemscope', 'loop', 'multiple', 'muted', 'nomodule',
    'novalidate', 'open', 'playsinline', 'readonly', 'required', 'reversed', 'selected'
]);


export class FragmentError extends TypeError {

    override name = 'FragmentError';
}


const targetAttributes = function (action: string, target: Target | undefined, required: boolean): { target?: string; targets?: string } {

    if (target === undefined || target === null) {
        if (required) {
            throw new FragmentError(`"${action}" needs a target: { id } or { selector }`);
        }

        return {};
    }

    const hasId = typeof target.id === 'string' && target.id.length > 0;
    const hasSelector = typeof target.selector === 'string' && target.selector.length > 0;
    if (hasId === hasSelector) {
        throw new FragmentError(`"${action}" takes exactly one of { id } or { selector }, got ${JSON.stringify(target)}`);
    }

    return hasId ? { target: target.id! } : { targets: target.selector! };
};


const checkContent = function (action: string, content: Content | undefined): Content | undefined {

    if (content === undefined) {
        return undefined;
    }

    const kinds = ['template', 'text', 'html'].filter((kind) => content !== null && typeof content === 'object' && kind in content);
    if (kinds.length !== 1) {
        throw new FragmentError(`"${action}" content must be exactly one of { template, context }, { text } or { html }`);
    }

    if ('template' in content && typeof content.template !== 'string') {
        throw new FragmentError(`"${action}" template must be a string`);
    }

    return content;
};


const attributesOf = function (action: string, options: FragmentOptions | undefined): Record<string, string> {

    const attributes: Record<string, string> = {};
    for (const [name, value] of Object.entries(options?.attributes ?? {})) {
        if (!ATTRIBUTE_NAME.test(name) || RESERVED_ATTRIBUTES.has(name)) {
            throw new FragmentError(`"${action}" cannot take the attribute "${name}"`);
        }

        if (value === null || value === undefined) {
            continue;
        }

        if (typeof value !== 'boolean') {
            attributes[name] = String(value);
        }
        else if (STRING_VALUED.test(name)) {
            attributes[name] = String(value);
        }
        else if (value) {
            attributes[name] = BOOLEAN_ATTRIBUTES.has(name.toLowerCase()) ? '' : 'true';
        }
    }

    if (options?.method !== undefined) {
        if (!MORPHABLE.has(action)) {
            throw new FragmentError(`method "${options.method}" applies to replace and update, not "${action}"`);
        }

        if (options.method !== 'morph' && options.method !== 'replace') {
            throw new FragmentError(`method must be "morph" or "replace", got "${String(options.method)}"`);
        }

        attributes.method = options.method;
    }

    return attributes;
};


const build = function (action: string, target: Target | undefined, content: Content | undefined, options: FragmentOptions | undefined, targetRequired: boolean): Fragment {

    if (typeof action !== 'string' || !ACTION_NAME.test(action)) {
        throw new FragmentError(`invalid action name ${JSON.stringify(action)}`);
    }

    if (WITHOUT_TEMPLATE.has(action) && content !== undefined) {
        throw new FragmentError(`"${action}" takes no content`);
    }

    const checked = checkContent(action, content);
    return Object.freeze({
        action,
        ...targetAttributes(action, target, targetRequired),
        attributes: Object.freeze(attributesOf(action, options)),
        ...(checked ? { content: checked } : {})
    });
};


const contentAction = (action: ContentAction) => (target: Target, content?: Content, options?: FragmentOptions) => build(action, target, content, options, true);


/** Builders for the eight Turbo actions and custom ones. */
export const TurboStream = {
    append: contentAction('append'),
    prepend: contentAction('prepend'),
    replace: contentAction('replace'),
    update: contentAction('update'),
    before: contentAction('before'),
    after: contentAction('after'),
    remove: (target: Target, options?: Pick<FragmentOptions, 'attributes'>) => build('remove', target, undefined, options, true),
    /**
     * `request-id` is, unless given, the Turbo request id of the HTTP request being handled (as
     * turbo-rails does), so the tab that caused the refresh skips it; `requestId: null` leaves it out.
     */
    refresh: (options: RefreshFragmentOptions = {}) => {

        const requestId = options.requestId === undefined ? currentRequestId() : options.requestId;
        return build('refresh', undefined, undefined, { attributes: { ...options.attributes, 'request-id': requestId } }, false);
    },
    /** A custom action, applied by a `StreamActions[name]` registered in the browser. The target is optional. */
    action: (name: string, target?: Target, content?: Content, options?: FragmentOptions) => {

        if (BUILTIN_ACTIONS.includes(name)) {
            throw new FragmentError(`"${name}" is a built-in action: use TurboStream.${name}()`);
        }

        return build(name, target, content, options, false);
    }
};


/** Serialises a fragment whose content has already been rendered to `inner` HTML. */
export const serializeFragment = function (fragment: Fragment, inner: string): string {

    let open = `<turbo-stream action="${escapeHtml(fragment.action)}"`;
    if (fragment.target !== undefined) {
        open += ` target="${escapeHtml(fragment.target)}"`;
    }

    if (fragment.targets !== undefined) {
        open += ` targets="${escapeHtml(fragment.targets)}"`;
    }

    for (const [name, value] of Object.entries(fragment.attributes)) {
        open += value === '' ? ` ${name}` : ` ${name}="${escapeHtml(value)}"`;
    }

    if (WITHOUT_TEMPLATE.has(fragment.action)) {
        return `${open}></turbo-stream>`;
    }

    return `${open}><template>${inner}</template></turbo-stream>`;
};

