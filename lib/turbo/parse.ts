// Reads <turbo-stream> markup back into its parts, for the testing kit and HTTP reply assertions.
// It understands what serializeFragment writes and hand-written markup of the same shape.

export interface ParsedFragment {
    action: string;
    target?: string;
    targets?: string;
    /** Every attribute but action, target and targets, unescaped. */
    attributes: Record<string, string>;
    /** The inner HTML of the <template>, '' for remove and refresh. */
    html: string;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: '\'' };
const ATTRIBUTE = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
const TAG = /<(\/?)turbo-stream\b((?:[^>"']|"[^"]*"|'[^']*')*)>/gi;


export const unescapeHtml = function (value: string): string {

    return value.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, body: string) => {

        if (body[0] === '#') {
            const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
            return Number.isFinite(code) ? String.fromCodePoint(code) : entity;
        }

        return NAMED[body.toLowerCase()] ?? entity;
    });
};


const attributesOf = function (source: string): Record<string, string> {

    const attributes: Record<string, string> = {};
    for (const match of source.matchAll(ATTRIBUTE)) {
        attributes[match[1]!.toLowerCase()] = unescapeHtml(match[2] ?? match[3] ?? match[4] ?? '');
    }

    return attributes;
};


const templateContent = function (inner: string): string {

    const match = /^\s*<template>([\s\S]*)<\/template>\s*$/i.exec(inner);
    return match ? match[1]! : inner;
};


/** Every top-level <turbo-stream> element in `markup`, in order. */
export const parseTurboStreams = function (markup: string): ParsedFragment[] {

    const fragments: ParsedFragment[] = [];
    let depth = 0;
    let open: { attributes: Record<string, string>; contentStart: number } | null = null;

    for (const match of markup.matchAll(TAG)) {
        const closing = match[1] === '/';
        if (!closing) {
            if (depth++ === 0) {
                open = { attributes: attributesOf(match[2]!), contentStart: match.index + match[0].length };
            }

            continue;
        }

        if (depth === 0) {
            continue;
        }

        if (--depth === 0 && open) {
            const { action = '', target, targets, ...attributes } = open.attributes;
            fragments.push({
                action,
                ...(target !== undefined ? { target } : {}),
                ...(targets !== undefined ? { targets } : {}),
                attributes,
                html: templateContent(markup.slice(open.contentStart, match.index))
            });

            open = null;
        }
    }

    return fragments;
};
