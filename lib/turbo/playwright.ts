import { createServer as createNetServer, type AddressInfo } from 'node:net';

import type { Server } from '@hapi/hapi';
import { test as base, expect, type Browser, type BrowserContext, type Page, type Route, type TestType, type PlaywrightTestArgs, type PlaywrightTestOptions, type PlaywrightWorkerArgs, type PlaywrightWorkerOptions } from '@playwright/test';

import { ELEMENT } from './helpers.ts';

export { expect };

// Multi-window browser tests of a hapi-turbo app: the app in the test worker, N windows each with
// its own cookies, convergence checks, a record of the stream messages each window applied, and
// faults (a dropped socket, an offline window, a restarted server). docs/testing.md is the guide.

/** Where the app must listen: the factory creates its server with these. */
export interface AppAddress {
    host: string;
    port: number;
}

/** A hapi server, or an object holding one as `server` (with models, a `close()`…). */
export type AppLike = Server | { server: Server; close?: () => unknown };

export interface CreateTestOptions<App extends AppLike> {
    /**
     * Creates the app's hapi server, not started, listening on `host` and `port`: once per worker.
     * The harness starts it, points `baseURL` at it and stops it when the worker is done (then
     * calls the app's `close()`, if it has one).
     */
    app?: (address: AppAddress) => App | Promise<App>;
    /** Runs for each window before the test: log window `index` in as a user of its own. */
    setupWindow?: (page: Page, index: number, fixtures: { app: App }) => unknown;
}

/** Browser windows with separate cookie jars: several users on the same app. */
export interface Windows {
    /** Every window, in order (`windowCount` of them). */
    all: Page[];
    /** all[0] */
    a: Page;
    /** all[1] */
    b: Page;
    /** One browser context per window, in order. */
    contexts: BrowserContext[];
    /** Navigates every window to `url` and waits until each one's streams are connected. */
    goto(url: string): Promise<void>;
}

export interface HarnessFixtures {
    /** How many windows `windows` opens (default 2): `test.use({ windowCount: 3 })`. */
    windowCount: number;
    windows: Windows;
    /** Stops the app's server and starts it again, on the same port (and database). */
    restartApp: () => Promise<void>;
}

export interface HarnessWorkerFixtures<App> {
    /** What the `app` factory returned, its server started; undefined without a factory. */
    app: App;
}

/** One <turbo-stream> element a page applied from its stream sources, in the order applied. */
export interface StreamMessage {
    /** The plain stream name ("chat:RoomStream[1]"). */
    stream: string;
    /** The seq of the message that carried it: elements broadcast together share one. */
    seq: number;
    action: string;
    target: string | null;
    targets: string | null;
    /** The <turbo-stream> element's markup. */
    html: string;
}


const RECORD_BINDING = '__hapiTurboRecordMessage';

interface Recording {
    messages: StreamMessage[];
    listeners: Set<(message: StreamMessage) => void>;
}

const recordings = new WeakMap<Page, Promise<Recording>>();
const labels = new WeakMap<Page, string>();

const labelOf = (page: Page, index: number) => labels.get(page) ?? `page ${index + 1}`;


/**
 * Runs in every document of a recorded page, before its own scripts: records each message the
 * stream sources apply, and keeps the page's WebSockets at hand so that `disconnect()` can drop
 * them and keep new ones from opening for a while.
 */
const pageHarness = function (binding: string): void {

    const scope = window as unknown as Record<string, unknown>;
    if (scope.__hapiTurboHarness) {
        return;
    }

    const harness = { sockets: new Set<WebSocket>(), blocked: false };
    scope.__hapiTurboHarness = harness;

    document.addEventListener('turbo-stream-source:message', (event) => {

        const { stream, seq, html } = (event as CustomEvent<{ stream: string; seq: number; html: string }>).detail;
        const template = document.createElement('template');
        template.innerHTML = html;
        for (const element of template.content.children) {
            if (element.localName === 'turbo-stream') {
                const record = scope[binding] as ((message: object) => void) | undefined;
                record?.({ stream, seq, action: element.getAttribute('action'), target: element.getAttribute('target'), targets: element.getAttribute('targets'), html: element.outerHTML });
            }
        }
    });

    const socketPath = () => (document.querySelector('meta[name="hapi-turbo-socket-path"]') as HTMLMetaElement | null)?.content || '/socket.io';
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {

        constructor(url: string | URL, protocols?: string | string[]) {

            // While blocked, a socket to the app's socket path goes to a closed port and fails at once
            const blocked = harness.blocked && new URL(url, location.href).pathname.startsWith(socketPath());
            super(blocked ? 'ws://127.0.0.1:9/' : url, protocols);
            harness.sockets.add(this);
            this.addEventListener('close', () => harness.sockets.delete(this));
        }
    };
};


const recordingOf = function (page: Page): Promise<Recording> {

    let recording = recordings.get(page);
    if (!recording) {
        recording = (async () => {

            const state: Recording = { messages: [], listeners: new Set() };
            await page.exposeBinding(RECORD_BINDING, (_source, message: StreamMessage) => {

                state.messages.push(message);
                state.listeners.forEach((listener) => listener(message));
            });
            await page.addInitScript(pageHarness, RECORD_BINDING);
            // A document already loaded records from now on
            await page.evaluate(pageHarness, RECORD_BINDING).catch(() => undefined);
            return state;
        })();
        recordings.set(page, recording);
    }

    return recording;
};


/**
 * The <turbo-stream> messages `page` applied from its stream sources, in order, one entry per
 * element with its message's own seq. The array is live: it grows as messages arrive, across
 * navigations. Windows of the `windows` fixture record from the start; for another page, call
 * this before it loads.
 */
export const recordStreamMessages = async function (page: Page): Promise<StreamMessage[]> {

    return (await recordingOf(page)).messages;
};


const describeMessages = (messages: StreamMessage[]) => messages.map((message) => `  ${message.stream} #${message.seq}: ${message.action} ${message.target ?? message.targets ?? ''}`.trimEnd()).join('\n');


/**
 * Resolves with the first message `page` applied (already, or from now on) that passes
 * `predicate`; fails after `timeout` ms (default 10 000) listing what the page did receive.
 */
export const waitForStreamMessage = async function (page: Page, predicate: (message: StreamMessage) => boolean, options: { timeout?: number } = {}): Promise<StreamMessage> {

    const recording = await recordingOf(page);
    const found = recording.messages.find(predicate);
    if (found) {
        return found;
    }

    const timeout = options.timeout ?? 10_000;
    return await new Promise<StreamMessage>((resolve, reject) => {

        const listener = (message: StreamMessage) => {

            if (predicate(message)) {
                clearTimeout(timer);
                recording.listeners.delete(listener);
                resolve(message);
            }
        };

        const timer = setTimeout(() => {

            recording.listeners.delete(listener);
            const received = recording.messages;
            reject(new Error(`waitForStreamMessage: no matching message within ${timeout} ms; ${labels.get(page) ?? 'the page'} applied ${received.length}${received.length ? ':\n' + describeMessages(received.slice(-20)) : ''}`));
        }, timeout);

        recording.listeners.add(listener);
    });
};


/**
 * Waits until the page has at least one stream source and every one of them is subscribed (carries
 * the `connected` attribute). Call it after a navigation and before making changes another window
 * should see: a change made earlier cannot reach a page that is not listening yet.
 */
export const waitForStreamsConnected = async function (page: Page, options: { timeout?: number } = {}): Promise<void> {

    await page.waitForFunction((element) => {

        const sources = [...document.querySelectorAll(element)];
        return sources.length > 0 && sources.every((source) => source.hasAttribute('connected'));
    }, ELEMENT, { timeout: options.timeout });
};


const waitForStreamsDisconnected = async function (page: Page, options: { timeout?: number } = {}): Promise<void> {

    await page.waitForFunction((element) => [...document.querySelectorAll(element)].every((source) => !source.hasAttribute('connected')), ELEMENT, { timeout: options.timeout });
};


/** `page.goto(url)`, then waits until the page's streams are connected. */
export const goto = async function (page: Page, url: string, options: Parameters<Page['goto']>[1] = {}): Promise<void> {

    await page.goto(url, options);
    await waitForStreamsConnected(page, { timeout: options.timeout });
};


const RECONNECT_TIMEOUT = 30_000;           // socket.io's reconnection backoff reaches 5 s between attempts


/**
 * Drops the page's socket and keeps it from reconnecting for `for` ms; then waits until its
 * streams are connected again (they resume from where they were, so missed messages are replayed).
 * The rest of the page's network is left alone. Needs the page recorded before it loaded (every
 * window of the `windows` fixture is).
 */
export const disconnect = async function (page: Page, options: { for: number }): Promise<void> {

    await recordingOf(page);
    const socketPath = await page.evaluate(() => (document.querySelector('meta[name="hapi-turbo-socket-path"]') as HTMLMetaElement | null)?.content || '/socket.io');
    const polling = (url: URL) => url.pathname.startsWith(`${socketPath}/`);
    const refuse = (route: Route) => route.abort('connectionrefused');
    await page.route(polling, refuse);
    try {
        const dropped = await page.evaluate(() => {

            const harness = (window as unknown as { __hapiTurboHarness?: { sockets: Set<WebSocket>; blocked: boolean } }).__hapiTurboHarness;
            if (!harness) {
                return -1;
            }

            harness.blocked = true;
            harness.sockets.forEach((socket) => socket.close());
            return harness.sockets.size;
        });
        if (dropped < 0) {
            throw new Error('disconnect: the page was not recorded before it loaded; call recordStreamMessages(page) before page.goto(), or use the windows fixture');
        }

        await waitForStreamsDisconnected(page);
        await page.waitForTimeout(options.for);
    }
    finally {
        await page.evaluate(() => {

            const harness = (window as unknown as { __hapiTurboHarness?: { blocked: boolean } }).__hapiTurboHarness;
            if (harness) {
                harness.blocked = false;
            }
        }).catch(() => undefined);
        await page.unroute(polling, refuse);
    }

    await waitForStreamsConnected(page, { timeout: RECONNECT_TIMEOUT });
};


/**
 * Takes the page's window (its browser context) off the network, or back on. Offline, it waits
 * until the page's stream sources noticed; back online, until they are connected again.
 */
export const setOffline = async function (page: Page, offline: boolean): Promise<void> {

    await page.context().setOffline(offline);
    if (offline) {
        await waitForStreamsDisconnected(page);
    }
    else {
        await waitForStreamsConnected(page, { timeout: RECONNECT_TIMEOUT });
    }
};


export interface ConvergedOptions {
    /** Compare the text a reader sees (innerText, line by line) instead of the HTML. */
    text?: boolean;
    /** ms to wait for the windows to agree (default 10 000). */
    timeout?: number;
}

// The element as lines: one per element (attributes sorted) and per text node (whitespace folded),
// indented by depth, so that two windows' copies compare as text and differ line by line
const snapshotOf = function ({ selector, text }: { selector: string; text: boolean }): string[] | null {

    const root = document.querySelector(selector);
    if (!root) {
        return null;
    }

    if (text) {
        return (root as HTMLElement).innerText.split('\n').map((line) => line.replace(/\s+/g, ' ').trim()).filter(Boolean);
    }

    const escape = (value: string) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
    const lines: string[] = [];
    const visit = (node: Node, depth: number) => {

        const indent = '  '.repeat(depth);
        if (node instanceof Element) {
            const attributes = [...node.attributes].map((attribute) => ` ${attribute.name}="${escape(attribute.value)}"`).sort().join('');
            lines.push(`${indent}<${node.localName}${attributes}>`);
            node.childNodes.forEach((child) => visit(child, depth + 1));
        }
        else if (node.nodeType === Node.TEXT_NODE) {
            const value = (node.textContent ?? '').replace(/\s+/g, ' ').trim();
            if (value) {
                lines.push(`${indent}${escape(value)}`);
            }
        }
    };

    visit(root, 0);
    return lines;
};


/** A line diff of `from` and `to` (longest common subsequence): "  " same, "- " only in `from`, "+ " only in `to`. */
export const diffLines = function (from: string[], to: string[]): string[] {

    if (from.length * to.length > 4_000_000) {
        return [...from.map((line) => `- ${line}`), ...to.map((line) => `+ ${line}`)];
    }

    // common[i][j]: length of the longest common subsequence of from[i..] and to[j..]
    const common = Array.from({ length: from.length + 1 }, () => new Array<number>(to.length + 1).fill(0));
    for (let i = from.length - 1; i >= 0; --i) {
        for (let j = to.length - 1; j >= 0; --j) {
            common[i]![j] = from[i] === to[j] ? common[i + 1]![j + 1]! + 1 : Math.max(common[i + 1]![j]!, common[i]![j + 1]!);
        }
    }

    const lines: string[] = [];
    let i = 0;
    let j = 0;
    while (i < from.length || j < to.length) {
        if (i < from.length && j < to.length && from[i] === to[j]) {
            lines.push(`  ${from[i++]}`);
            ++j;
        }
        else if (i < from.length && (j === to.length || common[i + 1]![j]! >= common[i]![j + 1]!)) {
            lines.push(`- ${from[i++]}`);
        }
        else {
            lines.push(`+ ${to[j++]}`);
        }
    }

    return lines;
};


/**
 * Waits until the element `selector` holds the same normalized HTML (or text, with `{ text: true }`)
 * in every page. On timeout it fails naming the first window that differs from the first one, with
 * a line diff.
 */
export const expectConverged = async function (pages: Page[], selector: string, options: ConvergedOptions = {}): Promise<void> {

    if (!pages.length) {
        throw new Error('expectConverged: no pages given');
    }

    const timeout = options.timeout ?? 10_000;
    const deadline = Date.now() + timeout;
    for (;;) {
        const snapshots = await Promise.all(pages.map((page) => page.evaluate(snapshotOf, { selector, text: options.text === true })));
        const reference = snapshots[0]!;
        const differing = snapshots.findIndex((snapshot) => snapshot === null || snapshot.join('\n') !== reference?.join('\n'));
        if (differing < 0) {
            return;
        }

        if (Date.now() >= deadline) {
            const first = labelOf(pages[0]!, 0);
            const other = labelOf(pages[differing]!, differing);
            const header = `expectConverged(${JSON.stringify(selector)}${options.text ? ', text' : ''}) after ${timeout} ms:`;
            const missing = snapshots.findIndex((snapshot) => snapshot === null);
            if (missing >= 0) {
                throw new Error(`${header} ${labelOf(pages[missing]!, missing)} has no element matching ${selector}`);
            }

            throw new Error(`${header} ${other} differs from ${first}\n- ${first}\n+ ${other}\n${diffLines(reference!, snapshots[differing]!).join('\n')}`);
        }

        await new Promise((resolve) => setTimeout(resolve, 100));
    }
};


const serverOf = function (app: AppLike): Server {

    const held = (app as { server?: Server }).server;
    return typeof held?.start === 'function' ? held : app as Server;
};


const freePort = function (host: string): Promise<number> {

    return new Promise((resolve, reject) => {

        const probe = createNetServer();
        probe.once('error', reject);
        probe.listen(0, host, () => {

            const { port } = probe.address() as AddressInfo;
            probe.close(() => resolve(port));
        });
    });
};


const HOST = '127.0.0.1';


const openWindows = async function (browser: Browser, count: number): Promise<Windows> {

    if (!Number.isSafeInteger(count) || count < 1) {
        throw new Error(`windowCount must be a positive integer, got ${count}`);
    }

    const contexts: BrowserContext[] = [];
    const all: Page[] = [];
    for (let index = 0; index < count; ++index) {
        const context = await browser.newContext();
        const page = await context.newPage();
        labels.set(page, `window ${index + 1}`);
        await recordingOf(page);
        contexts.push(context);
        all.push(page);
    }

    const windowAt = (index: number, name: string) => {

        const page = all[index];
        if (!page) {
            throw new Error(`windows.${name}: there are only ${count} window(s); test.use({ windowCount: ${index + 1} })`);
        }

        return page;
    };

    return {
        all,
        contexts,
        get a() {

            return windowAt(0, 'a');
        },
        get b() {

            return windowAt(1, 'b');
        },
        goto: async (url) => {

            await Promise.all(all.map((page) => goto(page, url)));
        }
    };
};


type HarnessTest<App> = TestType<PlaywrightTestArgs & PlaywrightTestOptions & HarnessFixtures, PlaywrightWorkerArgs & PlaywrightWorkerOptions & HarnessWorkerFixtures<App>>;


/**
 * A Playwright `test` with the harness's fixtures: `app` (the server from the `app` factory, started
 * on 127.0.0.1 and a free port in this worker, `baseURL` pointing at it), `windows`
 * (`windowCount` of them, each logged in by `setupWindow`) and `restartApp`.
 */
export const createTest = function <App extends AppLike = never>(options: CreateTestOptions<App> = {}): HarnessTest<App> {

    const factory = options.app;
    return base.extend<HarnessFixtures, HarnessWorkerFixtures<App>>({
        // eslint-disable-next-line no-empty-pattern -- Playwright reads a fixture's dependencies from this pattern
        app: [async ({}, use) => {

            if (!factory) {
                await use(undefined as never);
                return;
            }

            const app = await factory({ host: HOST, port: await freePort(HOST) });
            const server = serverOf(app);
            await server.start();
            try {
                await use(app);
            }
            finally {
                await server.stop({ timeout: 1000 });
                if (typeof (app as { close?: unknown }).close === 'function') {
                    await (app as { close: () => unknown }).close();
                }
            }
        }, { scope: 'worker', timeout: 60_000, title: 'hapi app' }],

        baseURL: async ({ app, baseURL }, use) => {

            await use(app ? serverOf(app).info.uri : baseURL);
        },

        restartApp: async ({ app }, use) => {

            await use(async () => {

                if (!app) {
                    throw new Error('restartApp: no app; createTest({ app: (address) => createServer(address) })');
                }

                const server = serverOf(app);
                const port = server.info.port;
                await server.stop({ timeout: 1000 });
                await server.start();
                if (server.info.port !== port) {
                    throw new Error(`restartApp: the server came back on port ${server.info.port}, not ${port}: create it with the port the app factory is given`);
                }
            });
        },

        windowCount: [2, { option: true }],

        windows: async ({ browser, windowCount, app }, use, testInfo) => {

            const windows = await openWindows(browser, windowCount);
            try {
                for (const [index, page] of windows.all.entries()) {
                    await options.setupWindow?.(page, index, { app });
                }

                await use(windows);
                // Also for a test marked test.fail(): the record is what one reads to see why
                if (testInfo.status !== 'passed' && testInfo.status !== 'skipped') {
                    for (const page of windows.all) {
                        const messages = await recordStreamMessages(page);
                        await testInfo.attach(`stream messages, ${labels.get(page)}`, { body: JSON.stringify(messages, null, 2), contentType: 'application/json' });
                    }
                }
            }
            finally {
                await Promise.all(windows.contexts.map((context) => context.close()));
            }
        }
    }) as HarnessTest<App>;
};


/** `test` with a `windows` fixture, for an app started elsewhere (Playwright's `webServer`). */
export const test = createTest();
