// The reader's app, part by part, built from the tutorial's code blocks alone. A block names its file
// in the fence info string (```ts file=lib/chat/models.ts) and is applied to what the reader has:
//
// - a block without an elision line (`// ...`, `{{!-- ... --}}`, `<!-- ... -->`, `/* ... */`) is
//   the whole file, new or replaced;
// - a block with elisions changes a file the reader has. Each elision keeps the reader's lines where
//   it stands. Each run of lines between elisions replaces the stretch of the file that runs from
//   its first line to its last, so both must be lines the reader has (the shortest such stretch
//   after the previous run); a run at the top of the block replaces the file up to its last line,
//   and a run at the bottom replaces it from its first line.
//
// Blank lines at the edges of a run are left out of the match; lines compare without trailing
// whitespace, leading whitespace counts.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseFencedBlocks, type FencedBlock } from './markdown.ts';

export const TUTORIAL = 'docs/tutorial';

// Languages a block may use to show a file, with the lines that elide part of it
export const FILE_LANGUAGES: Record<string, readonly string[]> = {
    ts: ['// ...'],
    js: ['// ...'],
    jsonc: ['// ...'],
    html: ['{{!-- ... --}}', '<!-- ... -->'],
    css: ['/* ... */']
};

// These show commands and output; they never name a file
export const FREE_LANGUAGES = new Set(['sh', 'text']);

export interface Part {
    number: number;
    name: string;
    markdown: string;
    blocks: FencedBlock[];
}

/** A file as the reader has it: its lines, without trailing whitespace. */
export type Files = Map<string, string[]>;

export interface Typed {
    /** Non-blank lines the reader types (new or changed), by file. */
    lines: Map<string, number>;
}

export interface Assembly {
    /** The reader's files at the end of each part, by part number. */
    states: Map<number, Files>;
    /** What the reader types in each part. */
    typed: Map<number, Typed>;
    failures: string[];
}


export const loadParts = function (root: string): Part[] {

    return readdirSync(join(root, TUTORIAL))
        .filter((name) => /^part-\d+\.md$/.test(name))
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
        .map((name) => {

            const markdown = readFileSync(join(root, TUTORIAL, name), 'utf8');
            return { number: Number(/^part-(\d+)\.md$/.exec(name)![1]), name, markdown, blocks: parseFencedBlocks(markdown) };
        });
};


export const where = (part: Part, block: FencedBlock) => `${TUTORIAL}/${part.name}:${block.line} (${block.attributes.file ?? block.language})`;


const isElisionIn = (language: string) => (text: string) => (FILE_LANGUAGES[language] ?? []).includes(text.trim());

const trimBlankEdges = function (lines: string[]): string[] {

    let start = 0;
    let end = lines.length;
    while (start < end && !lines[start]!.trim()) {
        ++start;
    }

    while (end > start && !lines[end - 1]!.trim()) {
        --end;
    }

    return lines.slice(start, end);
};


/** The runs of a block between its elisions; `open` tells whether it starts and ends with one. */
export const runsOf = function (block: FencedBlock) {

    const isElision = isElisionIn(block.language);
    const lines = block.lines.map((line) => line.trimEnd());
    const runs: string[][] = [[]];
    for (const line of lines) {
        if (isElision(line)) {
            runs.push([]);
        }
        else {
            runs.at(-1)!.push(line);
        }
    }

    const trimmed = runs.map(trimBlankEdges);
    return { runs: trimmed, elided: runs.length > 1 };
};


type Applied = { ok: true; lines: string[] } | { ok: false; message: string };


/** Applies a block with elisions to the reader's lines (see the rules at the top). */
export const applyBlock = function (current: readonly string[], block: FencedBlock): Applied {

    const { runs, elided } = runsOf(block);
    if (!elided) {
        return { ok: true, lines: trimBlankEdges(runs[0]!) };
    }

    const out: string[] = [];
    let cursor = 0;
    const find = (text: string, from: number, to = current.length) => {

        for (let at = from; at < to; ++at) {
            if (current[at] === text) {
                return at;
            }
        }

        return -1;
    };

    for (let index = 0; index < runs.length; ++index) {
        const run = runs[index]!;
        if (!run.length) {
            continue;
        }

        const first = run[0]!;
        const last = run.at(-1)!;
        const top = index === 0;
        const bottom = index === runs.length - 1;
        if (top) {
            const end = find(last, 0);
            if (end === -1) {
                return { ok: false, message: `the last line of its first run, ${JSON.stringify(last)}, is not a line the reader has` };
            }

            out.push(...run);
            cursor = end + 1;
            continue;
        }

        if (bottom) {
            let start = -1;
            for (let at = current.length - 1; at >= cursor && start === -1; --at) {
                start = current[at] === first ? at : -1;
            }

            if (start === -1) {
                return { ok: false, message: `the first line of its last run, ${JSON.stringify(first)}, is not a line the reader has (after the runs before it)` };
            }

            out.push(...current.slice(cursor, start), ...run);
            cursor = current.length;
            continue;
        }

        // The shortest stretch from `first` to `last` after the cursor
        let start = -1;
        let end = cursor - 1;
        while (start === -1) {
            end = find(last, end + 1);
            if (end === -1) {
                return { ok: false, message: `the run ${JSON.stringify(first)} … ${JSON.stringify(last)} does not match lines the reader has, in this order (after the runs before it)` };
            }

            for (let at = end; at >= cursor && start === -1; --at) {
                start = current[at] === first ? at : -1;
            }
        }

        out.push(...current.slice(cursor, start), ...run);
        cursor = end + 1;
    }

    out.push(...current.slice(cursor));
    return { ok: true, lines: out };
};


/** How many non-blank lines of `after` are new: not in a longest common subsequence with `before`. */
export const typedLines = function (before: readonly string[], after: readonly string[]): number {

    const a = before.filter((line) => line.trim());
    const b = after.filter((line) => line.trim());
    let previous = new Array<number>(b.length + 1).fill(0);
    for (const line of a) {
        const row = new Array<number>(b.length + 1).fill(0);
        for (let j = 1; j <= b.length; ++j) {
            row[j] = line === b[j - 1] ? previous[j - 1]! + 1 : Math.max(previous[j]!, row[j - 1]!);
        }

        previous = row;
    }

    return b.length - previous[b.length]!;
};


/** Every part's blocks applied in order: the reader's files at the end of each part. */
export const assemble = function (parts: readonly Part[]): Assembly {

    const files: Files = new Map();
    const states = new Map<number, Files>();
    const typed = new Map<number, Typed>();
    const failures: string[] = [];
    for (const part of parts) {
        const lines = new Map<string, number>();
        for (const block of part.blocks) {
            const file = block.attributes.file;
            if (file === undefined || !(block.language in FILE_LANGUAGES)) {
                continue;
            }

            const current = files.get(file);
            if (current === undefined && runsOf(block).elided) {
                failures.push(`${where(part, block)}: shows part of ${file}, which the reader does not have yet (a new file is shown whole, without elisions)`);
                continue;
            }

            const applied = applyBlock(current ?? [], block);
            if (!applied.ok) {
                failures.push(`${where(part, block)}: ${applied.message}`);
                continue;
            }

            lines.set(file, (lines.get(file) ?? 0) + typedLines(current ?? [], applied.lines));
            files.set(file, applied.lines);
        }

        states.set(part.number, new Map([...files].map(([file, content]) => [file, [...content]])));
        typed.set(part.number, { lines });
    }

    return { states, typed, failures };
};


/** The commands of a part's `sh` blocks, one per line, comments and prompts left out. */
export const commandsOf = function (part: Part): string[] {

    return part.blocks
        .filter((block) => block.language === 'sh')
        .flatMap((block) => block.lines)
        .map((line) => line.replace(/\s+#.*$/, '').trim())
        .filter((line) => line && !line.startsWith('#'));
};


/** Lines and files typed by the end of a part, and words of each part as `wc -w` counts them. */
export const figures = function (parts: readonly Part[], assembly: Assembly) {

    const touched = new Set<string>();
    let total = 0;
    return parts.map((part) => {

        const lines = assembly.typed.get(part.number)!.lines;
        const inPart = [...lines.values()].reduce((sum, count) => sum + count, 0);
        [...lines].filter(([, count]) => count > 0).forEach(([file]) => touched.add(file));
        total += inPart;
        return {
            part: part.number,
            words: part.markdown.split(/\s+/).filter(Boolean).length,
            typedInPart: inPart,
            filesInPart: [...lines.values()].filter((count) => count > 0).length,
            typedSoFar: total,
            filesSoFar: touched.size
        };
    });
};
