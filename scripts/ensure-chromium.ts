// Runs before the browser specs. Finds a Chromium; on Debian as root, installs the system package
// when none is there; otherwise stops with one line saying how to get one.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

import { findChromium } from './chromium.ts';

let found = await findChromium();
if (!found && !process.env.CHROMIUM_PATH && existsSync('/etc/debian_version') && process.getuid?.() === 0) {
    process.stdout.write('No Chromium found: installing Debian\'s chromium package...\n');
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    found = await findChromium();
}

if (!found) {
    process.stderr.write(process.env.CHROMIUM_PATH ?
        `CHROMIUM_PATH=${process.env.CHROMIUM_PATH} does not exist: point it at a Chromium binary.\n` :
        'No Chromium found: install one (Debian: apt-get install chromium) or set CHROMIUM_PATH to its binary.\n');
    process.exit(1);
}
