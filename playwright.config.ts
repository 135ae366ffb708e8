import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { defineConfig } from '@playwright/test';

import { findChromium } from './scripts/chromium.ts';

// The chat app runs on a free loopback port with a throw-away database. The choice is made once, in
// the runner, and handed to the workers through the environment.
if (!process.env.CHAT_TEST_PORT) {
    process.env.CHAT_TEST_PORT = execFileSync(process.execPath, ['-e', 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})']).toString();
    process.env.CHAT_TEST_DATABASE = join(mkdtempSync(join(tmpdir(), 'hapi-turbo-chat-')), 'chat.sqlite');
}

const port = Number(process.env.CHAT_TEST_PORT);
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
        baseURL: `http://127.0.0.1:${port}`,
        browserName: 'chromium',
        headless: true,
        launchOptions: {
            executablePath,
            args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run']
        },
        trace: 'retain-on-failure'
    },
    webServer: {
        command: 'node --import tsx lib/chat/main.ts',
        url: `http://127.0.0.1:${port}/`,
        reuseExistingServer: false,
        timeout: 60_000,
        stdout: 'pipe',
        stderr: 'pipe',
        env: {
            HOST: '127.0.0.1',
            PORT: String(port),
            DATABASE_URL: `sqlite:${process.env.CHAT_TEST_DATABASE}`,
            SECRET: 'browser-specs-secret-that-is-long-enough',
            NODE_ENV: 'test'
        },
        gracefulShutdown: { signal: 'SIGTERM', timeout: 5000 }
    }
});
