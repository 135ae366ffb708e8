import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Page } from '@playwright/test';

import { expect, test, waitForStreamsConnected } from '../../lib/turbo/playwright.ts';
import { assemble, commandsOf, loadParts } from '../docs/reader-app.ts';

// The app a reader of docs/tutorial has at the end of parts 2, 4 and 6, built from the tutorial's
// blocks alone (specs/docs/reader-app.ts), in a folder of its own next to the tarball `npm pack`
// makes of this repository. The setup commands of the tutorial's `sh` blocks run as written (npm
// init, npm pkg, npm install, mkdir); then `npx tsc`, then `npm start` on a free loopback port, and
// from part 4 on two browser windows that must see each other's messages.
//
// The first run installs everything from the registry (and may build sqlite3, minutes). It leaves
// a copy of node_modules in the system's temp folder, keyed by the commands, Node and npm, so that
// later runs only install the new tarball.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHECKED = [2, 4, 6];
const INSTALL_TIMEOUT = 15 * 60_000;
const SETUP = /^(mkdir|npm (init|pkg|install|install-scripts))\b/;

const parts = loadParts(ROOT);
const assembly = assemble(parts);

interface Run {
    /** The folder that holds the tarball and the reader's `chat` folder. */
    work: string;
    app: string;
    cacheKey: string;
    cached: boolean;
    timings: string[];
}

let run: Run | undefined;


const execute = function (command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {

    return new Promise((resolve, reject) => {

        const child = spawn(command, args, { cwd, env: { ...process.env, ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => output += chunk.toString());
        child.stderr.on('data', (chunk: Buffer) => output += chunk.toString());
        child.on('error', reject);
        child.on('close', (code) => code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} (in ${cwd}) exited with ${code}:\n${output.slice(-4000)}`)));
    });
};


const timed = async function <T>(label: string, action: () => Promise<T>): Promise<T> {

    const start = process.hrtime.bigint();
    try {
        return await action();
    }
    finally {
        run?.timings.push(`${label}: ${(Number(process.hrtime.bigint() - start) / 1e9).toFixed(1)} s`);
    }
};


const freePort = function (): Promise<number> {

    return new Promise((resolve, reject) => {

        const server = createServer().listen(0, '127.0.0.1', () => {

            const { port } = server.address() as { port: number };
            server.close(() => resolve(port));
        });
        server.on('error', reject);
    });
};


const cacheDir = (key: string) => join(tmpdir(), 'hapi-turbo-reader-app', key);


/** Packs this repository next to the reader's folder, and restores node_modules from an earlier run. */
const prepare = async function (): Promise<Run> {

    const work = await mkdtemp(join(tmpdir(), 'hapi-turbo-reader-'));
    const setup = parts.flatMap((part) => commandsOf(part)).filter((command) => SETUP.test(command));
    const npm = (await execute('npm', ['--version'], work)).trim();
    const cacheKey = createHash('sha256').update(JSON.stringify([setup, process.version, npm, process.platform, process.arch])).digest('hex').slice(0, 16);
    run = { work, app: join(work, 'chat'), cacheKey, cached: false, timings: [] };
    await timed('npm pack', () => execute('npm', ['pack', '--pack-destination', work], ROOT));
    return run;
};


/** Runs the setup commands of parts `from` to `to` as the reader would, in order. */
const runCommands = async function (current: Run, from: number, to: number): Promise<void> {

    for (const part of parts.filter((item) => item.number >= from && item.number <= to)) {
        for (const command of commandsOf(part).filter((line) => SETUP.test(line))) {
            const cd = /^(.*?)\s*&&\s*cd (\S+)$/.exec(command);
            if (cd) {
                await execute('bash', ['-c', cd[1]!], current.work);
                continue;
            }

            if (command.startsWith('npm install ') && !current.cached && existsSync(join(cacheDir(current.cacheKey), 'node_modules'))) {
                // What an earlier run installed. npm trusts its record of node_modules (.package-lock.json)
                // only when it is newer than every package folder, as it is in the folder npm wrote; then
                // it replaces hapi-turbo, whose tarball has changed, and leaves sqlite3 built.
                await cp(join(cacheDir(current.cacheKey), 'node_modules'), join(current.app, 'node_modules'), { recursive: true, verbatimSymlinks: true });
                const now = new Date();
                await utimes(join(current.app, 'node_modules', '.package-lock.json'), now, now);
                current.cached = true;
            }

            await timed(`part ${part.number}: ${command.length > 60 ? `${command.slice(0, 57)}...` : command}`, () => execute('bash', ['-c', command], current.app));
        }
    }
};


/** Keeps node_modules for the next run: swapped in whole, so that a run copying the old one is not disturbed. */
const saveCache = async function (current: Run): Promise<void> {

    const target = cacheDir(current.cacheKey);
    const staging = `${target}.${process.pid}`;
    await cp(join(current.app, 'node_modules'), join(staging, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    await mkdir(dirname(target), { recursive: true });
    await rename(target, `${staging}.old`).catch(() => undefined);
    await rename(staging, target).catch(() => rm(staging, { recursive: true, force: true }));     // Another run got there first
    await rm(`${staging}.old`, { recursive: true, force: true });
};


const writeState = async function (current: Run, part: number): Promise<void> {

    for (const [file, lines] of assembly.states.get(part)!) {
        await mkdir(dirname(join(current.app, file)), { recursive: true });
        await writeFile(join(current.app, file), `${lines.join('\n')}\n`);
    }
};


/** `npm start`, on a free loopback port; resolves with the address once the app says it runs. */
const start = async function (current: Run): Promise<{ url: string; child: ChildProcess; output: () => string }> {

    const port = await freePort();
    const child = spawn('npm', ['start'], { cwd: current.app, detached: true, env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'development' } });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {

        const look = (chunk: Buffer) => {

            output += chunk.toString();
            const match = /Chat is running at (http:\/\/\S+)/.exec(output);
            if (match) {
                resolve(match[1]!);
            }
        };

        child.stdout!.on('data', look);
        child.stderr!.on('data', look);
        child.on('exit', (code) => reject(new Error(`npm start exited with ${code} before the chat ran:\n${output.slice(-4000)}`)));
    });

    expect(url).toBe(`http://127.0.0.1:${port}`);
    return { url, child, output: () => output };
};


const stop = async function (child: ChildProcess): Promise<void> {

    if (child.exitCode !== null || child.signalCode !== null) {
        return;
    }

    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-child.pid!, 'SIGTERM');                  // npm, its shell and the app: the whole group
    await exited;
};


const sendMessage = async function (page: Page, text: string): Promise<void> {

    await page.getByLabel('Message').fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
    await expect(page.getByLabel('Message')).toHaveValue('');
};


/** Two windows on the Demo Room: what each sends, both see, once. */
const twoWindows = async function (a: Page, b: Page, url: string, part: number): Promise<void> {

    for (const page of [a, b]) {
        await page.goto(`${url}/1/`);
        await waitForStreamsConnected(page);
        await expect(page.getByLabel('Message')).toBeVisible();
    }

    const fromA = `part ${part}: hello from A`;
    const fromB = `part ${part}: hello from B`;
    await sendMessage(a, fromA);
    await expect(b.locator('#messages li', { hasText: fromA })).toHaveCount(1);
    await expect(a.locator('#messages li', { hasText: fromA })).toHaveCount(1);
    await sendMessage(b, fromB);
    await expect(a.locator('#messages li', { hasText: fromB })).toHaveCount(1);
    await expect(b.locator('#messages li', { hasText: fromB })).toHaveCount(1);
};


test.describe.configure({ mode: 'serial' });

test.describe('the reader\'s app, built from docs/tutorial', () => {

    test.afterAll(async () => {

        if (run) {
            console.log(`reader's app timings (node_modules ${run.cached ? 'restored from an earlier run' : 'installed from the registry'}):\n  ${run.timings.join('\n  ')}`);
            await rm(run.work, { recursive: true, force: true });
        }
    });

    for (const part of CHECKED) {
        test(`at the end of part ${part}: installs, type-checks, starts${part >= 4 ? ' and chats between two windows' : ' and serves its pages'}`, async ({ windows: { a, b } }) => {

            test.setTimeout(INSTALL_TIMEOUT);
            const current = run ?? await prepare();
            const previous = CHECKED[CHECKED.indexOf(part) - 1] ?? 0;
            await runCommands(current, previous + 1, part);
            await writeState(current, part);
            if (part === CHECKED.at(-1)) {
                await saveCache(current);
            }

            // Incremental, so that the types of node_modules are checked once for the three parts
            await timed(`part ${part}: npx tsc`, () => execute('npx', ['tsc', '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', join(current.work, 'tsc.tsbuildinfo')], current.app));
            const app = await timed(`part ${part}: npm start`, () => start(current));
            try {
                if (part < 4) {
                    const list = await fetch(`${app.url}/`);
                    expect(await list.text()).toContain('>Demo Room</a>');
                    expect(await (await fetch(`${app.url}/1/`)).text()).toContain('demo message');
                    expect((await fetch(`${app.url}/99/`)).status).toBe(404);
                    return;
                }

                await timed(`part ${part}: two windows`, () => twoWindows(a, b, app.url, part));
                const missing = await fetch(`${app.url}/99/`);
                expect(missing.status).toBe(404);
                if (part === CHECKED.at(-1)) {
                    expect(await missing.text()).toContain('<h1>404 Not Found</h1>');        // Part 6's error pages
                }
            }
            finally {
                await stop(app.child);
            }
        });
    }
});
