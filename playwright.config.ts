import { defineConfig } from '@playwright/test';

import { findChromium } from './scripts/chromium.ts';

// Every spec file starts the app it tests inside its worker (createTest from hapi-turbo/playwright),
// on 127.0.0.1 and a free port, with a database of its own.

const executablePath = await findChromium() ?? undefined;

export default defineConfig({
    testDir: 'specs/browser',
    timeout: 30_000,
    expect: { timeout: 10_000 },
    fullyParallel: false,
    workers: 1,
    retries: 0,
    reporter: [['list']],
    use: {
        browserName: 'chromium',
        headless: true,
        launchOptions: {
            executablePath,
            args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run']
        },
        trace: 'retain-on-failure'
    }
});
