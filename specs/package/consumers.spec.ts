// The package as users get it: `npm pack` once, then apps in temporary folders install the tarball
// with the host libraries they choose, from npm's cache or registry, and run it from dist/. Nothing
// here reads the sources: a broken build, export map, declaration or dependency list fails these.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

import { io as connect, type Socket } from 'socket.io-client';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const APPS = fileURLToPath(new URL('./apps/', import.meta.url));
const OWN = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };

// The lowest versions the peer ranges allow, for the app that pins old versions
const PINNED = { '@hapi/hapi': '21.0.0', '@hapi/vision': '7.0.0', 'sequelize': '6.12.0', 'handlebars': '4.7.0' };
const HOST = { '@hapi/hapi': OWN.devDependencies['@hapi/hapi']!, '@hapi/vision': OWN.devDependencies['@hapi/vision']!, 'handlebars': OWN.devDependencies.handlebars!, 'sequelize': OWN.devDependencies.sequelize!, 'pg': OWN.devDependencies.pg! };

const INSTALL_TIMEOUT_MS = 5 * 60_000;


interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
}


// npm run by `npm test` leaves its own settings in the environment; the apps' npm must not inherit them
const cleanEnv = function (): NodeJS.ProcessEnv {

    const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig', 'npm_config_globalconfig']);
    return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_') || keep.has(name.toLowerCase())));
};


const run = function (command: string, args: readonly string[], cwd: string, timeout = INSTALL_TIMEOUT_MS): Promise<Run> {

    return new Promise((resolve, reject) => {

        const child = spawn(command, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => stdout += chunk);
        child.stderr.on('data', (chunk) => stderr += chunk);
        const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
        child.once('error', reject);
        child.once('close', (code) => {

            clearTimeout(timer);
            resolve({ code, stdout, stderr });
        });
    });
};


const succeed = async function (command: string, args: readonly string[], cwd: string): Promise<string> {

    const result = await run(command, args, cwd);
    assert.equal(result.code, 0, `${command} ${args.join(' ')} in ${cwd} failed:\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
};


interface App {
    dir: string;
    /** Installed packages, not counting the app. */
    packages: number;
    /** Size of node_modules in MB. */
    megabytes: number;
}


/** Writes an app folder (its package.json and the fixture files of `source`) and installs it. */
const installApp = async function (dir: string, manifest: object, source?: string): Promise<App> {

    mkdirSync(dir, { recursive: true });
    if (source) {
        cpSync(join(APPS, source), dir, { recursive: true });
        cpSync(join(APPS, 'views'), join(dir, 'views'), { recursive: true });
    }

    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${source ?? 'baseline'}`, version: '1.0.0', private: true, ...manifest }, null, 2));
    await succeed('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], dir);
    const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    const kilobytes = Number((await succeed('du', ['-sk', 'node_modules'], dir)).split(/\s/)[0]);
    return { dir, packages: Object.keys(lock.packages).filter((path) => path.startsWith('node_modules/')).length, megabytes: kilobytes / 1024 };
};


interface Started {
    uri: string;
    child: ChildProcess;
    stderr: () => string;
}


/** Runs an app's server (it prints its URI on its first line) until `stop`. */
const startApp = function (dir: string, script: string): Promise<Started> {

    const child = spawn(process.execPath, [script], { cwd: dir, env: { ...cleanEnv(), NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (chunk) => stderr += chunk);
    return new Promise((resolve, reject) => {

        const timer = setTimeout(() => {

            child.kill('SIGKILL');
            reject(new Error(`${script} printed no URI within 30 s:\n${stdout}\n${stderr}`));
        }, 30_000);

        child.stdout!.on('data', (chunk) => {

            stdout += chunk;
            const line = /^(http:\/\/\S+)\n/.exec(stdout);
            if (line) {
                clearTimeout(timer);
                resolve({ uri: line[1]!, child, stderr: () => stderr });
            }
        });

        child.once('exit', (code) => {

            clearTimeout(timer);
            reject(new Error(`${script} exited with ${code}:\n${stdout}\n${stderr}`));
        });
    });
};


const stopApp = async function (app: Started): Promise<void> {

    if (app.child.exitCode === null && app.child.signalCode === null) {
        const exited = new Promise((resolve) => app.child.once('exit', resolve));
        app.child.kill('SIGKILL');
        await exited;
    }
};


const decodeAttribute = (value: string) => value.replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16))).replace(/&quot;/g, '"').replace(/&amp;/g, '&');


/**
 * The page an app serves, its assets, and a broadcast received on a socket.io client subscribed to
 * the streams the page names: the whole path a user's app depends on.
 */
const assertServesLivePages = async function (dir: string, script: string, greeting: string): Promise<void> {

    const app = await startApp(dir, script);
    let socket: Socket | undefined;
    try {
        const page = await (await fetch(app.uri)).text();
        assert.match(page, /<script type="module" src="\/_turbo\/hapi-turbo\.js"/);
        const signed = [...page.matchAll(/<turbo-socket-stream-source signed-stream-name="([^"]+)"/g)].map((match) => decodeAttribute(match[1]!));
        assert.equal(signed.length, 2, page);

        for (const asset of ['hapi-turbo.js', 'stream-client.js', 'turbo.es2017-esm.js', 'socket.io.esm.min.js']) {
            const res = await fetch(`${app.uri}/_turbo/${asset}`);
            assert.equal(res.status, 200, asset);
            assert.match(res.headers.get('content-type') ?? '', /javascript/, asset);
        }

        socket = connect(`${app.uri}/turbo`, { transports: ['websocket'], reconnection: false });
        const received: string[] = [];
        const both = new Promise<void>((resolve, reject) => {

            const timer = setTimeout(() => reject(new Error(`broadcasts received after 20 s: ${JSON.stringify(received)}`)), 20_000);
            socket!.on('turbo-stream', (html: string) => {

                received.push(html);
                if (received.length === 2) {
                    clearTimeout(timer);
                    resolve();
                }
            });
        });

        for (const signedStreamName of signed) {
            const ack = await socket.timeout(10_000).emitWithAck('subscribe', { signedStreamName }) as { ok: boolean; stream: string };
            assert.equal(ack.ok, true, JSON.stringify(ack));
        }

        assert.equal(await (await fetch(`${app.uri}/broadcast`, { method: 'POST' })).text(), 'sent');
        await both;
        assert.deepEqual(received, [
            `<turbo-stream action="append" target="notes"><template><li>${greeting}</li>\n</template></turbo-stream>`,
            '<turbo-stream action="update" target="note_7"><template>edited</template></turbo-stream>'
        ]);
    }
    catch (error) {
        (error as Error).message += `\n${script} stderr:\n${app.stderr()}`;
        throw error;
    }
    finally {
        socket?.close();
        await stopApp(app);
    }
};


/** Every copy of a package in an app's tree, by `npm ls`. */
const versionsInTree = async function (dir: string, name: string): Promise<string[]> {

    const { stdout } = await run('npm', ['ls', name, '--all', '--json'], dir);
    const found: string[] = [];
    const visit = (node: { dependencies?: Record<string, { version?: string; dependencies?: object }> }) => {

        for (const [dependency, child] of Object.entries(node.dependencies ?? {})) {
            if (dependency === name && child.version && !found.includes(child.version)) {
                found.push(child.version);
            }

            visit(child as never);
        }
    };

    visit(JSON.parse(stdout) as never);
    return found;
};


/**
 * Runs tsc with one of an app's configurations. Its errors come back as "file:line TScode: message";
 * those that tsc also reports for the host libraries alone (tsconfig.baseline.json: their own
 * declarations under the app's strict flags) are set apart, as hapi-turbo has no part in them.
 */
const baselines: Record<string, Promise<string[]>> = {};

const compile = async function (dir: string, project: string): Promise<{ errors: string[]; others: string[] }> {

    const tsc = async (config: string) => {

        const { stdout } = await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', config], dir);
        return stdout.split('\n').filter((line) => line.includes('error TS')).map((line) => {

            const [, file, row, code, message] = /^(\S+?)\((\d+),\d+\): error (TS\d+): (.*)$/.exec(line) ?? [];
            return file ? `${file}:${row} ${code}: ${message}` : line;
        });
    };

    baselines[dir] ??= tsc('tsconfig.baseline.json');
    const [baseline, errors] = await Promise.all([baselines[dir], tsc(project)]);
    return { errors: errors.filter((error) => !baseline.includes(error)), others: errors.filter((error) => baseline.includes(error)) };
};


describe('the packed package', { timeout: 2 * INSTALL_TIMEOUT_MS }, () => {

    const work = mkdtempSync(join(tmpdir(), 'hapi-turbo-package-'));
    let tarball = '';
    let apps: Record<'baseline' | 'esm' | 'cjs' | 'ts', App>;

    before(async () => {

        // `npm pack` runs `prepare`, which builds dist/
        await succeed('npm', ['pack', '--pack-destination', work, '--loglevel=error'], ROOT);
        tarball = join(work, readdirSync(work).find((file) => file.endsWith('.tgz'))!);
        const hapiTurbo = `file:${tarball}`;
        const [baseline, esm, cjs, ts] = await Promise.all([
            installApp(join(work, 'baseline'), { type: 'module', dependencies: HOST }),
            installApp(join(work, 'esm'), { type: 'module', dependencies: { ...HOST, 'hapi-turbo': hapiTurbo } }, 'esm'),
            installApp(join(work, 'cjs'), { dependencies: { ...HOST, ...PINNED, 'hapi-turbo': hapiTurbo } }, 'cjs'),
            installApp(join(work, 'ts'), {
                type: 'module',
                dependencies: { ...HOST, 'hapi-turbo': hapiTurbo },
                devDependencies: { 'typescript': OWN.devDependencies.typescript!, '@types/node': OWN.devDependencies['@types/node']! }
            }, 'ts')
        ]);

        apps = { baseline: baseline!, esm: esm!, cjs: cjs!, ts: ts! };
    }, { timeout: 2 * INSTALL_TIMEOUT_MS });

    after(() => rmSync(work, { recursive: true, force: true }));

    it('is a small tarball of JavaScript, types and maps, and adds little to an app', async (t: TestContext) => {

        const files = (await succeed('tar', ['-tzf', tarball], work)).trim().split('\n').map((path) => path.replace(/^package\//, ''));
        for (const entry of ['index', 'testing', 'playwright']) {
            for (const extension of ['.js', '.js.map', '.d.ts', '.d.ts.map']) {
                assert.ok(files.includes(`dist/${entry}${extension}`), `dist/${entry}${extension} is not in the tarball`);
            }
        }

        assert.ok(files.includes('dist/client/hapi-turbo.js') && files.includes('static/turbo/hapi-turbo.js') && files.includes('LICENSE'));
        const kilobytes = Number((await succeed('du', ['-k', '--apparent-size', tarball], work)).split(/\s/)[0]);
        const { esm, baseline } = apps;
        t.diagnostic(`tarball: ${kilobytes} kB, ${files.length} files`);
        t.diagnostic(`baseline app (hapi, vision, handlebars, sequelize, pg): ${baseline.packages} packages, ${baseline.megabytes.toFixed(1)} MB`);
        t.diagnostic(`the same app with hapi-turbo: ${esm.packages} packages, ${esm.megabytes.toFixed(1)} MB (+${esm.packages - baseline.packages} packages, +${(esm.megabytes - baseline.megabytes).toFixed(1)} MB)`);

        const added = JSON.parse(readFileSync(join(esm.dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
        for (const name of ['tsx', 'esbuild', 'sqlite3', 'redis', '@hapi/crumb', '@playwright/test', 'typescript']) {
            assert.equal(added.packages[`node_modules/${name}`], undefined, `${name} was installed with hapi-turbo`);
        }
    });

    it('serves live pages to a plain ESM app', async () => {

        await assertServesLivePages(apps.esm.dir, 'server.mjs', 'hello from esm');
    });

    it('names the packages to install when the redis option is used without them', async () => {

        const result = await run(process.execPath, ['redis.mjs'], apps.esm.dir, 30_000);
        assert.notEqual(result.code, 0);
        assert.match(result.stderr, /hapi-turbo's redis option needs the packages redis and @socket\.io\/redis-streams-adapter, and redis is not installed: npm install redis @socket\.io\/redis-streams-adapter/);
    });

    it('serves live pages to a CommonJS app, through require()', async () => {

        await assertServesLivePages(apps.cjs.dir, 'server.cjs', 'hello from commonjs');
    });

    it('gives a TypeScript app compiled by tsc types strict enough for its own flags, and runs it', async (t: TestContext) => {

        const { errors, others } = await compile(apps.ts.dir, 'tsconfig.json');
        assert.deepEqual(errors, [], others.join('\n'));
        if (others.length) {
            t.diagnostic(`tolerated, as tsc reports them without hapi-turbo too: ${others.join('; ')}`);
        }

        await assertServesLivePages(apps.ts.dir, 'build/server.js', 'hello from typescript');
    });

    it('makes tsc reject a misused decoration, so hapi\'s types carry the plugin\'s additions', async () => {

        const { errors, others } = await compile(apps.ts.dir, 'tsconfig.misuse.json');
        const source = readFileSync(join(apps.ts.dir, 'src', 'misuse.ts'), 'utf8').split('\n');
        const misuses = source.flatMap((line, index) => line.includes('// misuse:') ? [`src/misuse.ts:${index + 1}`] : []);
        assert.equal(misuses.length, 3);
        assert.deepEqual(errors.map((error) => error.split(' ')[0]), misuses, [...errors, ...others].join('\n'));
        assert.ok(errors.every((error) => / TS2322: /.test(error)), errors.join('\n'));
    });

    it('lets an app\'s bundler build hapi-turbo/client, with Turbo and the socket.io client from the app\'s node_modules', async () => {

        const { dir } = apps.esm;
        writeFileSync(join(dir, 'client.mjs'), 'import \'hapi-turbo/client\';\n');
        const esbuild = join(ROOT, 'node_modules', 'esbuild', 'bin', 'esbuild');
        await succeed(esbuild, ['client.mjs', '--bundle', '--format=esm', '--platform=browser', '--outfile=bundle.js', '--log-level=error'], dir);
        const bundle = readFileSync(join(dir, 'bundle.js'), 'utf8');
        assert.match(bundle, /customElements\.define\(ELEMENT, TurboSocketStreamSourceElement\)/);
        assert.match(bundle, /node_modules\/@hotwired\/turbo\//);
        assert.match(bundle, /node_modules\/socket\.io-client\//);
        assert.equal(bundle.match(/^\/\/ node_modules\/hapi-turbo\/dist\/client\/hapi-turbo\.js$/gm)?.length, 1);
    });

    it('shares one copy of hapi and sequelize with an app pinned to the oldest versions it allows', async () => {

        for (const [name, version] of Object.entries(PINNED)) {
            assert.deepEqual(await versionsInTree(apps.cjs.dir, name), [version], `${name} in npm ls`);
        }

        assert.equal(existsSync(join(apps.cjs.dir, 'node_modules', 'hapi-turbo', 'node_modules')), false, 'hapi-turbo has nested dependencies');
    });

    it('installs nothing that runs install scripts into a PostgreSQL-only app', async () => {

        const lock = JSON.parse(readFileSync(join(apps.esm.dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
        const scripted = Object.entries(lock.packages).filter(([, entry]) => entry.hasInstallScript).map(([path]) => path);
        assert.deepEqual(scripted, []);
        assert.equal(lock.packages['node_modules/sqlite3'], undefined);
    });
});
