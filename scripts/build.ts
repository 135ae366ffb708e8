// Builds what the package ships (`npm run build`; `prepare` runs it, so `npm install`, `npm pack` and
// `npm publish` get it):
// - dist/: the library compiled by tsc from lib/turbo/ (ESM, .d.ts, declaration and source maps);
// - dist/client/: the browser element for apps that bundle their own JavaScript (`hapi-turbo/client`).
//   static/turbo/ is what the plugin serves under /_turbo/, where Turbo and the socket.io client are
//   siblings served by URL; the copy imports them by package name instead, so a bundler finds them.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const STATIC = join(ROOT, 'static', 'turbo');
const DIST = join(ROOT, 'dist');
const CLIENT = join(DIST, 'client');

// The served asset each browser module imports, and the package a bundler finds it in
const PACKAGES: Record<string, string> = {
    './turbo.es2017-esm.js': '@hotwired/turbo',
    './socket.io.esm.min.js': 'socket.io-client'
};

const IMPORT = /(\bfrom\s*|\bimport\s*\(?\s*)(['"])([^'"]+)\2/g;
const TS_SPECIFIER = /(\b(?:from\s*|import\s*\(\s*)['"]\.{1,2}\/[^'"]*)\.ts(['"])/g;


const compile = function (): void {

    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
    if (result.status !== 0) {
        throw new Error(`tsc failed (exit code ${result.status})`);
    }

    // tsc rewrites the sources' `.ts` imports to `.js` in the JavaScript it emits, but leaves them as
    // written in declarations, where older TypeScript and other tools would not find the files
    const declarations = readdirSync(DIST, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.d.ts'));
    for (const file of declarations) {
        const path = join(DIST, file);
        writeFileSync(path, readFileSync(path, 'utf8').replace(TS_SPECIFIER, '$1.js$2'));
    }
};


const buildClient = function (): void {

    mkdirSync(CLIENT, { recursive: true });
    const modules = readdirSync(STATIC).filter((file) => file.endsWith('.js'));
    for (const file of modules) {
        const source = readFileSync(join(STATIC, file), 'utf8');
        const rewritten = source.replace(IMPORT, (match, keyword: string, quote: string, specifier: string) => {

            const name = PACKAGES[specifier];
            if (name) {
                return `${keyword}${quote}${name}${quote}`;
            }

            if (!specifier.startsWith('./') || !modules.includes(specifier.slice(2))) {
                throw new Error(`static/turbo/${file} imports ${specifier}: neither a sibling module nor a served package (add it to PACKAGES in scripts/build.ts)`);
            }

            return match;
        });

        writeFileSync(join(CLIENT, file), `// Generated from static/turbo/${file} by scripts/build.ts: edit that file.\n${rewritten}`);
    }

    writeFileSync(join(CLIENT, 'hapi-turbo.d.ts'), [
        '// `import \'hapi-turbo/client\'` defines the <turbo-socket-stream-source> element and starts Turbo;',
        '// it exports nothing.',
        'export {};',
        ''
    ].join('\n'));
};


rmSync(DIST, { recursive: true, force: true });
compile();
buildClient();
