// The tutorial's code blocks are checked against the repository, so a reader who types them ends
// with the chat app that is tested here. A block names its file in the fence info string
// (```ts file=lib/chat/models.ts) and is applied to the reader's copy of that file (reader-app.ts
// says how): the reader's app is assembled, part by part, from the blocks alone. Parts 1 to 4 build
// a smaller chat than lib/chat, so their files differ from the repository's; what ties them to it is
// that every later block must apply to them, that the app at the end of the last part must be the
// repository's, file for file and line for line, and that specs/browser/reader-app.spec.ts installs
// and runs the app of parts 2, 4 and 6 in browsers.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import Handlebars from 'handlebars';
import ts from 'typescript';

import { relativeLinkTargets, type FencedBlock } from './markdown.ts';
import { applyBlock, assemble, commandsOf, figures, FILE_LANGUAGES, FREE_LANGUAGES, loadParts, TUTORIAL, typedLines, where } from './reader-app.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PARTS = 6;

// The reader's own files, which the repository has in another form: its tsconfig.json also lists the
// folders to check. The reader's must still be an excerpt of it, so the options stay the same.
const READER_ONLY: readonly string[] = ['tsconfig.json'];

// Parts 1 to 4 build the smallest chat that works: what the reader types by then, and how long part 4 is
const LIGHT_UNTIL = 4;
const MAX_TYPED_LINES = 300;
const MAX_TYPED_FILES = 15;
const MAX_WORDS = { 4: 900 } as Record<number, number>;


const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

const isFile = (path: string) => existsSync(join(ROOT, path)) && statSync(join(ROOT, path)).isFile();

const linesOf = (text: string) => text.split(/\r?\n/).map((line) => line.trimEnd());

const withoutTrailingBlanks = function (lines: readonly string[]): string[] {

    const copy = [...lines];
    while (copy.length && !copy.at(-1)) {
        copy.pop();
    }

    return copy;
};


/** The files the reader must end up with: the chat app's code, templates, stylesheet and browser modules. */
const appFiles = function (): string[] {

    const under = (dir: string, pattern: RegExp) => readdirSync(join(ROOT, dir), { recursive: true })
        .map((name) => `${dir}/${String(name).split('\\').join('/')}`)
        .filter((path) => pattern.test(path) && isFile(path));

    return [
        ...under('lib/chat', /^lib\/chat\/[^/]+\.ts$/),
        ...under('views', /\.html$/),
        ...under('static/chat', /\.(css|js)$/)
    ].sort();
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


const parts = loadParts(ROOT);
const assembly = assemble(parts);
const last = assembly.states.get(PARTS) ?? new Map<string, string[]>();


describe('docs/tutorial', () => {

    it('has exactly six parts, part-1.md to part-6.md', () => {

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
                const { file, ...others } = block.attributes;
                assert.ok(block.language in FILE_LANGUAGES || FREE_LANGUAGES.has(block.language),
                    `${where(part, block)}: unknown language "${block.language}"; use one of ${[...Object.keys(FILE_LANGUAGES), ...FREE_LANGUAGES].join(', ')}`);
                assert.deepEqual(block.strayWords, [], `${where(part, block)}: the info string has words that are not key=value`);
                assert.deepEqual(Object.keys(others), [], `${where(part, block)}: unknown attributes (only file=)`);
                if (block.language in FILE_LANGUAGES) {
                    assert.ok(file, `${where(part, block)}: a ${block.language} block must name its file: \`\`\`${block.language} file=<path>`);
                    assert.ok(appFiles().includes(file!) || READER_ONLY.includes(file!), `${where(part, block)}: ${file} is not a file of the chat app`);
                }
                else {
                    assert.equal(file, undefined, `${where(part, block)}: a ${block.language} block shows no file`);
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

    it('applies every block to the file the reader has by then', () => {

        assert.deepEqual(assembly.failures, [], `blocks that do not apply:\n${assembly.failures.join('\n')}`);
    });

    it('ends with the app of this repository, every file line for line', () => {

        const problems: string[] = [];
        for (const file of appFiles()) {
            const reader = last.get(file);
            if (!reader) {
                problems.push(`${file}: never shown`);
                continue;
            }

            const expected = withoutTrailingBlanks(linesOf(read(file)));
            const actual = withoutTrailingBlanks(reader);
            const at = expected.findIndex((line, index) => line !== actual[index]);
            if (at !== -1 || actual.length !== expected.length) {
                const line = at === -1 ? expected.length : at;
                problems.push(`${file}: line ${line + 1} is ${JSON.stringify(actual[line] ?? '(end of file)')} for the reader, ${JSON.stringify(expected[line] ?? '(end of file)')} in the repository`);
            }
        }

        assert.deepEqual(problems, [], `the reader's app at the end of part ${PARTS} is not the repository's:\n${problems.join('\n')}`);
    });

    it('gives the reader a tsconfig.json whose options are the repository\'s', () => {

        const options = (text: string) => text.split('\n').map((line) => line.trim().replace(/,$/, '')).filter((line) => line.startsWith('"'));
        const repository = new Set(options(read('tsconfig.json')));
        const reader = options((last.get('tsconfig.json') ?? []).join('\n'));
        assert.ok(reader.length, 'the tutorial shows no tsconfig.json');
        assert.deepEqual(reader.filter((line) => !repository.has(line)), [], 'options of the reader\'s tsconfig.json that the repository does not have');
    });

    it('leaves the reader with code that parses and imports only what exists, at the end of every part', () => {

        const problems: string[] = [];
        for (const [part, files] of assembly.states) {
            const stateOf = (file: string) => files.get(file)?.join('\n');
            for (const [file, lines] of files) {
                problems.push(...stateProblems(file, lines.join('\n'), stateOf).map((problem) => `after part ${part}, ${file}: ${problem}`));
            }
        }

        assert.deepEqual(problems, [], problems.join('\n'));
    });

    it('installs hapi-turbo from the tarball that `npm pack` makes of this repository', () => {

        const { name, version } = JSON.parse(read('package.json')) as { name: string; version: string };
        const installs = commandsOf(parts[0]!).filter((command) => command.startsWith('npm install '));
        assert.ok(installs.some((command) => command.split(/\s+/).includes(`../${name}-${version}.tgz`)),
            `part 1 must install ../${name}-${version}.tgz:\n${installs.join('\n')}`);
        assert.match(parts[0]!.markdown, /npm install-scripts approve sqlite3/, 'part 1 must say how to answer npm about sqlite3\'s install script');
    });

    it(`keeps parts 1 to ${LIGHT_UNTIL} light: at most ${MAX_TYPED_LINES} typed lines in ${MAX_TYPED_FILES} files, and short parts`, (t) => {

        const counts = figures(parts, assembly);
        for (const row of counts) {
            t.diagnostic(`part ${row.part}: ${row.words} words; ${row.typedInPart} lines typed in ${row.filesInPart} files; ${row.typedSoFar} lines in ${row.filesSoFar} files so far`);
        }

        const light = counts.find((row) => row.part === LIGHT_UNTIL)!;
        assert.ok(light.typedSoFar <= MAX_TYPED_LINES, `${light.typedSoFar} lines typed by the end of part ${LIGHT_UNTIL}`);
        assert.ok(light.filesSoFar <= MAX_TYPED_FILES, `${light.filesSoFar} files typed by the end of part ${LIGHT_UNTIL}`);
        for (const [part, max] of Object.entries(MAX_WORDS)) {
            const words = counts.find((row) => row.part === Number(part))!.words;
            assert.ok(words <= max, `part ${part} has ${words} words, more than ${max}`);
        }
    });
});


describe('applyBlock', () => {

    const file = ['import a from \'a\';', '', 'const f = function () {', '', '    return a;', '};', '', 'export { f };'];
    const block = (...lines: string[]): FencedBlock => ({ language: 'ts', attributes: { file: 'f.ts' }, strayWords: [], lines, line: 1, paragraphAbove: '' });
    const apply = (...lines: string[]) => applyBlock(file, block(...lines));

    it('takes a block without elisions as the whole file', () => {

        assert.deepEqual(apply('', 'const b = 2;', ''), { ok: true, lines: ['const b = 2;'] });
    });

    it('keeps what elisions stand for, and replaces each run from its first line to its last', () => {

        assert.deepEqual(apply('// ...', 'const f = function () {', '    const b = 1;', '    return a + b;', '};', '// ...'),
            { ok: true, lines: ['import a from \'a\';', '', 'const f = function () {', '    const b = 1;', '    return a + b;', '};', '', 'export { f };'] });
    });

    it('replaces the top of the file with a first run, and its end with a last run', () => {

        assert.deepEqual(apply('import a from \'a\';', 'import b from \'b\';', '', 'const f = function () {', '// ...', '};', '', 'export { f, b };'),
            { ok: true, lines: ['import a from \'a\';', 'import b from \'b\';', '', 'const f = function () {', '', '    return a;', '};', '', 'export { f, b };'] });
    });

    it('refuses a run whose edges are not lines the reader has, or not in order', () => {

        const missing = apply('// ...', '    return b;', '};', '// ...');
        assert.equal(missing.ok, false);
        assert.match(missing.ok ? '' : missing.message, /" {4}return b;" … "};" does not match/);
        assert.equal(apply('// ...', 'export { f };', '// ...', 'const f = function () {', '// ...').ok, false);
        assert.equal(apply('// ...', 'return a;', '// ...').ok, false);         // Indentation counts
    });

    it('counts as typed the lines that are new or changed', () => {

        assert.equal(typedLines(file, ['import a from \'a\';', 'const f = () => a;', '', 'export { f };']), 1);
    });
});
