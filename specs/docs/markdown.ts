// Just enough CommonMark for the docs specs: fenced code blocks with their info strings, and links.

export interface FencedBlock {
    /** The first word of the info string: ts, html, sh... ('' when there is none). */
    language: string;
    /** The key=value words of the info string: file=lib/chat/models.ts, state=part-1. */
    attributes: Record<string, string>;
    /** Words of the info string that are neither the language nor key=value. */
    strayWords: string[];
    /** The lines between the fences, as written. */
    lines: string[];
    /** 1-based line of the opening fence. */
    line: number;
    /** The lines of text just above the opening fence, up to the blank line before them, joined by spaces. */
    paragraphAbove: string;
}

const OPENING = /^ {0,3}(`{3,}|~{3,})(.*)$/;


/** The fenced code blocks of a Markdown document, in order; an unclosed fence throws. */
export const parseFencedBlocks = function (markdown: string): FencedBlock[] {

    const lines = markdown.split(/\r?\n/);
    const blocks: FencedBlock[] = [];
    let paragraph: string[] = [];
    let blankBefore = false;
    for (let index = 0; index < lines.length; ++index) {
        const opening = OPENING.exec(lines[index]!);
        if (!opening || (opening[1]!.startsWith('`') && opening[2]!.includes('`'))) {
            const text = lines[index]!.trim();
            if (text) {
                paragraph = blankBefore ? [text] : [...paragraph, text];
            }

            blankBefore = !text;
            continue;
        }

        const fence = opening[1]!;
        const closing = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
        const end = lines.findIndex((line, at) => at > index && closing.test(line));
        if (end === -1) {
            throw new Error(`line ${index + 1}: the code fence ${fence} is never closed`);
        }

        const [language = '', ...words] = opening[2]!.trim().split(/\s+/).filter(Boolean);
        const attributes: Record<string, string> = {};
        const strayWords: string[] = [];
        for (const word of words) {
            const pair = /^([a-z][\w-]*)=(\S+)$/.exec(word);
            if (pair) {
                attributes[pair[1]!] = pair[2]!;
            }
            else {
                strayWords.push(word);
            }
        }

        blocks.push({ language, attributes, strayWords, lines: lines.slice(index + 1, end), line: index + 1, paragraphAbove: paragraph.join(' ') });
        paragraph = [];
        blankBefore = false;
        index = end;
    }

    return blocks;
};


/** The document without its fenced code blocks (each replaced by one blank line per line, so line numbers hold). */
export const proseOf = function (markdown: string): string {

    const lines = markdown.split(/\r?\n/);
    for (const block of parseFencedBlocks(markdown)) {
        for (let at = block.line - 1; at <= block.line + block.lines.length; ++at) {
            lines[at] = '';
        }
    }

    return lines.join('\n');
};


/** Targets of the inline links and images in the prose: `[text](target)`, without any #fragment. */
export const linkTargets = function (markdown: string): string[] {

    const prose = proseOf(markdown).replace(/`[^`\n]*`/g, '');
    return [...prose.matchAll(/\]\(<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g)].map((match) => match[1]!);
};


/** Link targets that point into the repository rather than to a web address or an anchor of the same page. */
export const relativeLinkTargets = function (markdown: string): string[] {

    return linkTargets(markdown)
        .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('#'))
        .map((target) => target.split('#')[0]!);
};
