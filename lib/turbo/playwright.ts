import { test as base, expect, type Browser, type BrowserContext, type Page } from '@playwright/test';

import { ELEMENT } from './helpers.ts';

export { expect };

/** Two browser windows with separate cookie jars: two users on the same app. */
export interface Windows {
    a: Page;
    b: Page;
    contexts: [BrowserContext, BrowserContext];
}


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


export const openWindows = async function (browser: Browser): Promise<Windows> {

    const contexts: [BrowserContext, BrowserContext] = [await browser.newContext(), await browser.newContext()];
    return { a: await contexts[0].newPage(), b: await contexts[1].newPage(), contexts };
};


/** `test` with a `windows` fixture: `test('…', async ({ windows: { a, b } }) => …)`. */
export const test = base.extend<{ windows: Windows }>({
    windows: async ({ browser }, use) => {

        const windows = await openWindows(browser);
        await use(windows);
        await Promise.all(windows.contexts.map((context) => context.close()));
    }
});
