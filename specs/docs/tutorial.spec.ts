// The tutorial's code blocks are checked against the repository, so a reader who types them ends
// with the chat app that is tested here. A block names its file in the fence info string
// (```ts file=lib/chat/models.ts) and must be an excerpt of that file: its non-blank lines appear in
// the file in order, as runs of consecutive lines, where an elision line (`// ...`, `<!-- ... -->`,
// `{{!-- ... --}}`, `/* ... */`) separates runs. Earlier parts show a file as it is by then, and
// every part only adds lines, so an earlier state is still an excerpt of the final file.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import Handlebars from 'handlebars';
import ts from 'typescript';

import { matchExcerpt, significantLines, type Line } from './excerpt.ts';
import { parseFencedBlocks, relativeLinkTargets, type FencedBlock } from './markdown.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TUTORIAL = 'docs/tutorial';
const PARTS = 5;

// Languages a block may use. These show files, and their blocks must name one; the value lists the
// lines that elide part of such a file.
const FILE_LANGUAGES: Record<string, readonly string[]> = {
    ts: ['// ...'],
    js: ['// ...'],
    jsonc: ['// ...'],
    html: ['{{!-- ... --}}', '<!-- ... -->'],
    css: ['/* ... */']
};

// These show commands and output; they never name a file and are not compared with anything
const FREE_LANGUAGES = new Set(['sh', 'text']);

// The demo imports the library by its path in this repository; a reader's app imports the package
// Blocks that show a file as it was at one part and no longer is (```ts file=... state=part-1).
// The reader types them and later replaces them, so they must stay rare; apart from the lines
// listed as stale, such a block must still be an excerpt of the file.
const EARLIER_STATES: readonly { part: number; file: string; stale: readonly string[]; reason: string }[] = [
    {
        part: 1,
        file: 'lib/chat/server.ts',
        stale: ['    return { server };'],
        reason: 'part 1 has no database, so createServer returns the server alone; part 2 shows the whole file again'
    },
    {
        part: 4,
        file: 'lib/chat/streams.ts',
        stale: ["import { ModelStream, Stream } from 'hapi-turbo';", "            await room.append('chat/components/message', { message }, { id: 'messages' });"],
        reason: 'a new message is first a plain append; "Going further" in part 5 sends it with a highlight, in one message, and shows the file again'
    }
];

const MAX_EARLIER_STATES = 3;

// Files of lib/chat that only tests use: the tutorial does not need to show them
const TEST_ONLY: readonly string[] = [];


interface Part {
    number: number;
    name: string;
    markdown: string;
    blocks: FencedBlock[];
}

interface Shown {
    part: number;
    file: string;
    covered: number[];
}

interface EarlierState {
    part: number;
    file: string;
    text: string;
    where: string;
}


const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

const isFile = (path: string) => existsSync(join(ROOT, path)) && statSync(join(ROOT, path)).isFile();


const fileLines = function (path: string): Line[] {

    return significantLines(read(path));
};


const loadParts = function (): Part[] {

    return readdirSync(join(ROOT, TUTORIAL))
        .filter((name) => name.endsWith('.md'))
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
        .map((name) => {

            const markdown = read(`${TUTORIAL}/${name}`);
            return { number: Number(/^part-(\d+)\.md$/.exec(name)?.[1] ?? NaN), name, markdown, blocks: parseFencedBlocks(markdown) };
        });
};


const where = (part: Part, block: FencedBlock) => `${TUTORIAL}/${part.name}:${block.line} (${block.attributes.file ?? block.language})`;

const blockLines = (block: FencedBlock) => significantLines(block.lines, block.line + 1);

const elisionTest = (block: FencedBlock) => (text: string) => (FILE_LANGUAGES[block.language] ?? []).includes(text.trim());


/** Every block with a file, matched against it: what it shows, what is wrong, the earlier states. */
const checkBlocks = function (parts: readonly Part[]) {

    const shown: Shown[] = [];
    const earlier: EarlierState[] = [];
    const failures: string[] = [];
    for (const part of parts) {
        for (const block of part.blocks) {
            const file = block.attributes.file;
            if (file === undefined) {
                continue;
            }

            if (normalize(file) !== file || file.startsWith('..') || file.startsWith('/') || !isFile(file)) {
                failures.push(`${where(part, block)}: ${file} is not a file of the repository (paths are relative to its root)`);
                continue;
            }

            let lines = blockLines(block);
            const state = block.attributes.state;
            if (state !== undefined) {
                earlier.push({ part: part.number, file, text: block.lines.join('\n'), where: where(part, block) });
                const listed = EARLIER_STATES.find((item) => item.part === part.number && item.file === file);
                const elision = FILE_LANGUAGES[block.language]?.[0] ?? '';
                lines = lines.map((line) => listed?.stale.includes(line.text) ? { ...line, text: elision } : line);    // What it stands in for is elided
            }

            const result = matchExcerpt(lines, fileLines(file), elisionTest(block));
            if (!result.ok) {
                failures.push(`${where(part, block)}: ${result.message}`);
            }
            else if (!lines.some((line) => !elisionTest(block)(line.text))) {
                failures.push(`${where(part, block)}: the block shows nothing but elisions`);
            }
            else if (state === undefined) {
                shown.push({ part: part.number, file, covered: result.covered });
            }
        }
    }

    return { shown, earlier, failures };
};


/** The files the reader must end up with: the chat app's code, templates, stylesheet and browser modules. */
const appFiles = function (): string[] {

    const under = (dir: string, pattern: RegExp) => readdirSync(join(ROOT, dir), { recursive: true })
        .map((name) => `${dir}/${String(name).split('\\').join('/')}`)
        .filter((path) => pattern.test(path) && isFile(path));

    return [
        ...under('lib/chat', /^lib\/chat\/[^/]+\.ts$/).filter((path) => !TEST_ONLY.includes(path)),
        ...under('views', /\.html$/),
        ...under('static/chat', /\.(css|js)$/)
    ].sort();
};


/**
 * A file as the reader has it at the end of a part: the lines of the file shown by then, or the
 * last earlier-state block when no later block has shown the file since.
 */
const stateAt = function (part: number, file: string, shown: readonly Shown[], earlier: readonly EarlierState[]): string | undefined {

    const state = earlier.filter((item) => item.file === file && item.part <= part).at(-1);
    const since = shown.filter((item) => item.file === file && item.part <= part && item.part > (state?.part ?? 0));
    if (!since.length) {
        return state?.text;
    }

    const covered = new Set(since.flatMap((item) => item.covered));
    return read(file).split(/\r?\n/).filter((_, index) => covered.has(index + 1)).join('\n');
};


/** What a TypeScript module imports as values from where, and the names it exports. */
const moduleShape = function (text: string) {

    const source = ts.createSourceFile('module.ts', text, ts.ScriptTarget.ES2022, true);
    const exports = new Set<string>();
    const imports: { from: string; names: string[] }[] = [];
    for (const statement of source.statements) {
        if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier) && !statement.importClause?.isTypeOnly) {
            const clause = statement.importClause;
            const bindings = clause?.namedBindings;
            const names = bindings && ts.isNamedImports(bindings) ?
                bindings.elements.filter((element) => !element.isTypeOnly).map((element) => (element.propertyName ?? element.name).text) :
                [];
            imports.push({ from: statement.moduleSpecifier.text, names: clause?.name ? ['default', ...names] : names });
        }

        const exported = ts.canHaveModifiers(statement) && ts.getModifiers(statement)?.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword);
        if (exported && ts.isVariableStatement(statement)) {
            statement.declarationList.declarations.forEach((declaration) => exports.add(declaration.name.getText(source)));
        }
        else if (exported && (ts.isClassDeclaration(statement) || ts.isFunctionDeclaration(statement) || ts.isInterfaceDeclaration(statement) ||
            ts.isTypeAliasDeclaration(statement)) && statement.name) {
            exports.add(statement.name.text);
        }
    }

    for (const match of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) {
        imports.push({ from: match[1]!, names: [] });
    }

    return { exports, imports };
};


/** Why a file's state at the end of a part would not load: syntax, or a relative import it cannot satisfy yet. */
const stateProblems = function (file: string, text: string, stateOf: (file: string) => string | undefined): string[] {

    if (file.endsWith('.html')) {
        try {
            Handlebars.parse(text);
            return [];
        }
        catch (error) {
            return [(error as Error).message.split('\n')[0]!];
        }
    }

    if (file.endsWith('.json')) {
        const { error } = ts.parseConfigFileTextToJson(file, text);
        return error ? [ts.flattenDiagnosticMessageText(error.messageText, '\n')] : [];
    }

    if (!file.endsWith('.ts')) {
        return [];
    }

    const output = ts.transpileModule(text, { fileName: 'module.ts', reportDiagnostics: true, compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
    const problems = (output.diagnostics ?? []).map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    if (problems.length || file.endsWith('.d.ts')) {
        return problems;
    }

    for (const { from, names } of moduleShape(text).imports) {
        if (!from.startsWith('.')) {
            continue;
        }

        const target = relative(ROOT, join(ROOT, dirname(file), from)).split('\\').join('/');
        const targetText = stateOf(target);
        if (targetText === undefined) {
            problems.push(`imports ${from}, which the reader does not have yet`);
            continue;
        }

        const missing = names.filter((name) => !moduleShape(targetText).exports.has(name));
        if (missing.length) {
            problems.push(`imports ${missing.join(', ')} from ${from}, which does not export ${missing.length > 1 ? 'them' : 'it'} yet`);
        }
    }

    return problems;
};


const parts = loadParts();
const { shown, earlier, failures } = checkBlocks(parts);


describe('docs/tutorial', () => {

    it('has exactly five parts, part-1.md to part-5.md', () => {

        assert.deepEqual(parts.map((part) => part.name), Array.from({ length: PARTS }, (_, index) => `part-${index + 1}.md`));
    });

    it('links each part to the next one', () => {

        for (const part of parts.slice(0, -1)) {
            const next = `part-${part.number + 1}.md`;
            assert.ok(relativeLinkTargets(part.markdown).includes(next), `${part.name} has no link to ${next}`);
        }
    });

    it('links only to files that exist, docs/protocol.md among them', () => {

        const targets = new Set<string>();
        for (const part of parts) {
            for (const target of relativeLinkTargets(part.markdown)) {
                const path = relative(ROOT, join(ROOT, TUTORIAL, target)).split('\\').join('/');
                assert.ok(existsSync(join(ROOT, path)), `${part.name} links to ${target}, but ${path} does not exist`);
                targets.add(path);
            }
        }

        assert.ok(targets.has('docs/protocol.md'), 'no part links to docs/protocol.md');
    });

    it('gives every code block a known language, and every block of code a file', () => {

        for (const part of parts) {
            for (const block of part.blocks) {
                const { file, state, ...others } = block.attributes;
                assert.ok(block.language in FILE_LANGUAGES || FREE_LANGUAGES.has(block.language),
                    `${where(part, block)}: unknown language "${block.language}"; use one of ${[...Object.keys(FILE_LANGUAGES), ...FREE_LANGUAGES].join(', ')}`);
                assert.deepEqual(block.strayWords, [], `${where(part, block)}: the info string has words that are not key=value`);
                assert.deepEqual(Object.keys(others), [], `${where(part, block)}: unknown attributes (only file= and state=)`);
                if (block.language in FILE_LANGUAGES) {
                    assert.ok(file, `${where(part, block)}: a ${block.language} block must name its file: \`\`\`${block.language} file=<path>`);
                }
                else {
                    assert.equal(file, undefined, `${where(part, block)}: a ${block.language} block shows no file`);
                }

                if (state !== undefined) {
                    assert.equal(state, `part-${part.number}`, `${where(part, block)}: state=${state} in ${part.name}`);
                }
            }
        }
    });

    it('names the file of every block, visibly, in the paragraph just above it', () => {

        for (const part of parts) {
            for (const block of part.blocks.filter((item) => item.attributes.file)) {
                assert.ok(block.paragraphAbove.includes(`\`${block.attributes.file}\``),
                    `${where(part, block)}: the paragraph above the block must name \`${block.attributes.file}\` (the info string does not show when rendered)`);
            }
        }
    });

    it('shows in every block an excerpt of the file it names', () => {

        assert.deepEqual(failures, [], `blocks that do not match their file:\n${failures.join('\n')}`);
    });

    it('keeps blocks of an earlier state rare and listed', () => {

        assert.ok(EARLIER_STATES.length <= MAX_EARLIER_STATES, `at most ${MAX_EARLIER_STATES} blocks may show an earlier state`);
        assert.deepEqual(earlier.map(({ part, file }) => ({ part, file })), EARLIER_STATES.map(({ part, file }) => ({ part, file })),
            'state= blocks must be exactly those listed in EARLIER_STATES, each with a reason');
        for (const listed of EARLIER_STATES) {
            const block = earlier.find((item) => item.part === listed.part && item.file === listed.file)!;
            const current = new Set(fileLines(listed.file).map((line) => line.text));
            for (const line of listed.stale) {
                assert.ok(block.text.split('\n').some((text) => text.trimEnd() === line), `${block.where}: the stale line ${JSON.stringify(line)} is not in the block`);
                assert.ok(!current.has(line), `${block.where}: ${JSON.stringify(line)} is in ${listed.file}, so it is not stale`);
            }
        }
    });

    it('shows every line of every file of the app, so the reader ends with the same app', () => {

        const missing: string[] = [];
        for (const file of appFiles()) {
            const covered = new Set(shown.filter((item) => item.file === file).flatMap((item) => item.covered));
            const left = fileLines(file).filter((line) => !covered.has(line.at));
            if (left.length) {
                missing.push(`${file}: ${left.length} line(s) never shown, from line ${left[0]!.at}: ${JSON.stringify(left[0]!.text)}`);
            }
        }

        assert.deepEqual(missing, [], `the tutorial does not show all of the app:\n${missing.join('\n')}`);
    });

    it('leaves the reader with code that parses and imports only what exists, at the end of every part', () => {

        const problems: string[] = [];
        const files = [...new Set([...shown, ...earlier].map((item) => item.file))];
        for (let part = 1; part <= PARTS; ++part) {
            const stateOf = (file: string) => stateAt(part, file, shown, earlier);
            for (const file of files) {
                const text = stateOf(file);
                if (text !== undefined) {
                    problems.push(...stateProblems(file, text, stateOf).map((problem) => `after part ${part}, ${file}: ${problem}`));
                }
            }
        }

        assert.deepEqual(problems, [], problems.join('\n'));
    });
});


describe('matchExcerpt', () => {

    const file = significantLines(['const a = 1;', '', 'function f() {', '    return a;', '}', 'export { f };'].join('\n'));
    const isElision = (text: string) => text.trim() === '// ...';
    const match = (...lines: string[]) => matchExcerpt(significantLines(lines), file, isElision);

    it('accepts runs that appear in order, elisions between them, blank lines anywhere', () => {

        assert.deepEqual(match('const a = 1;', '// ...', '', '}', 'export { f };'), { ok: true, covered: [1, 5, 6] });
    });

    it('names the first line that is not in the file', () => {

        const result = match('function f() {', '    return b;', '}');
        assert.equal(result.ok, false);
        assert.match(result.ok ? '' : result.message, /^line 2 " {4}return b;" does not follow/);
    });

    it('refuses runs out of order, lines that are not consecutive, and changed indentation', () => {

        assert.equal(match('export { f };', '// ...', 'const a = 1;').ok, false);
        assert.equal(match('const a = 1;', '}').ok, false);
        assert.equal(match('return a;').ok, false);
    });
});
