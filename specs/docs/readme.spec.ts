import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import Handlebars from 'handlebars';
import ts from 'typescript';

import { parseFencedBlocks, relativeLinkTargets } from './markdown.ts';

const ROOT = new URL('../../', import.meta.url);
const README = readFileSync(new URL('README.md', ROOT), 'utf8');

// A quickstart block opens with a comment naming its file: `// server.js`, `// src/server.ts`, `<!-- views/board.html -->`
const FILE_COMMENT = /^(?:\/\/\s*(\S+\.[jt]s)|<!--\s*(\S+\.html)\s*-->)$/;


describe('README.md', () => {

    it('tells how to install and how to test', () => {

        assert.match(README, /\bnpm install\b/);
        assert.match(README, /\bnpm test\b/);
    });

    it('has quickstart blocks, each a closed fence that names its file and parses', () => {

        const quickstart = parseFencedBlocks(README).filter((block) => FILE_COMMENT.test(block.lines[0]?.trim() ?? ''));
        const files = quickstart.map((block) => FILE_COMMENT.exec(block.lines[0]!.trim())!.slice(1).find(Boolean));
        assert.ok(files.some((file) => file?.endsWith('.js')), 'no quickstart block opens with // <file>.js');
        assert.ok(files.some((file) => file?.endsWith('.ts')), 'no quickstart block opens with // <file>.ts');
        assert.ok(files.some((file) => file?.endsWith('.html')), 'no quickstart block opens with <!-- <file>.html -->');

        for (const block of quickstart) {
            const code = block.lines.join('\n');
            if (block.language === 'ts' || block.language === 'js') {
                const { diagnostics = [] } = ts.transpileModule(code, { reportDiagnostics: true, compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
                assert.deepEqual(diagnostics.map((item) => ts.flattenDiagnosticMessageText(item.messageText, '\n')), [], `README.md:${block.line}`);
            }
            else {
                assert.equal(block.language, 'html', `README.md:${block.line}`);
                assert.doesNotThrow(() => Handlebars.parse(code), `README.md:${block.line}`);
            }
        }
    });

    it('links to files that exist', () => {

        for (const target of relativeLinkTargets(README)) {
            assert.ok(existsSync(new URL(target, ROOT)), `README.md links to ${target}, which does not exist`);
        }
    });
});
