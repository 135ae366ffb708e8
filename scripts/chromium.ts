// Where the browser specs find Chromium: $CHROMIUM_PATH, the system's Chromium, then Playwright's own
// download if one is installed. Playwright cannot download browsers on machines without access to
// its CDN, so the system package is the usual answer.
import { existsSync } from 'node:fs';

const SYSTEM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/snap/bin/chromium', '/usr/bin/google-chrome'];


export const findChromium = async function (): Promise<string | null> {

    if (process.env.CHROMIUM_PATH) {
        return existsSync(process.env.CHROMIUM_PATH) ? process.env.CHROMIUM_PATH : null;
    }

    const system = SYSTEM.find((path) => existsSync(path));
    if (system) {
        return system;
    }

    try {
        const { chromium } = await import('@playwright/test');
        const own = chromium.executablePath();
        return own && existsSync(own) ? own : null;
    }
    catch {
        return null;
    }
};
