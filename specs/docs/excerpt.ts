// Is a code block an excerpt of a file? Both are compared line by line after trimming trailing
// whitespace and dropping blank lines; leading whitespace counts. An elision line (`// ...` and the
// like) splits the block into runs: each run must appear in the file as consecutive lines, and the
// runs in the order the block gives them. Runs are placed at their earliest possible position,
// which finds a placement whenever one exists.

export interface Line {
    text: string;
    /** 1-based line number in the text it comes from. */
    at: number;
}

export type ExcerptResult =
    | { ok: true; covered: number[] }
    | { ok: false; missing: Line; message: string };


/** The non-blank lines of a text, trailing whitespace trimmed, with their line numbers. */
export const significantLines = function (text: string | readonly string[], firstLine = 1): Line[] {

    const lines = typeof text === 'string' ? text.split(/\r?\n/) : text;
    return lines
        .map((raw, index) => ({ text: raw.trimEnd(), at: firstLine + index }))
        .filter((line) => line.text !== '');
};


const startsAt = function (file: readonly Line[], run: readonly Line[], position: number, length = run.length): boolean {

    for (let offset = 0; offset < length; ++offset) {
        if (file[position + offset]?.text !== run[offset]!.text) {
            return false;
        }
    }

    return true;
};


const explain = function (file: readonly Line[], run: readonly Line[], from: number): ExcerptResult {

    // The longest head of the run that still appears in place tells which line broke it
    let matched = 0;
    for (let length = 1; length <= run.length; ++length) {
        let found = false;
        for (let position = from; position + length <= file.length && !found; ++position) {
            found = startsAt(file, run, position, length);
        }

        if (!found) {
            break;
        }

        matched = length;
    }

    const missing = run[matched]!;
    const anywhere = file.find((line) => line.text === missing.text);
    const after = from > 0 ? ` after file line ${file[from - 1]!.at}` : '';
    let why: string;
    if (matched > 0) {
        why = `does not follow the line before it (${JSON.stringify(run[matched - 1]!.text)}) in the file`;
    }
    else if (anywhere) {
        why = `is in the file (line ${anywhere.at}) but not${after || ' there'}: out of order, or an elision is missing`;
    }
    else {
        why = 'is not in the file';
    }

    return { ok: false, missing, message: `line ${missing.at} ${JSON.stringify(missing.text)} ${why}` };
};


/** Matches `block` (lines with their Markdown line numbers) against `file`; elisions split runs. */
export const matchExcerpt = function (block: readonly Line[], file: readonly Line[], isElision: (text: string) => boolean): ExcerptResult {

    const runs: Line[][] = [[]];
    for (const line of block) {
        if (isElision(line.text)) {
            runs.push([]);
        }
        else {
            runs.at(-1)!.push(line);
        }
    }

    const covered: number[] = [];
    let from = 0;
    for (const run of runs.filter((item) => item.length)) {
        let position = from;
        while (position + run.length <= file.length && !startsAt(file, run, position)) {
            ++position;
        }

        if (position + run.length > file.length) {
            return explain(file, run, from);
        }

        covered.push(...file.slice(position, position + run.length).map((line) => line.at));
        from = position + run.length;
    }

    return { ok: true, covered };
};
