// Runs before the PostgreSQL specs. Finds the PostgreSQL server tools; on Debian as root, installs
// the system package when there are none; otherwise stops with one line saying how to get them.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

import { findPostgresBin } from './postgres.ts';

let found = findPostgresBin();
if (!found && existsSync('/etc/debian_version') && process.getuid?.() === 0) {
    process.stdout.write('No PostgreSQL server found: installing Debian\'s postgresql package...\n');
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', 'postgresql'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    found = findPostgresBin();
}

if (!found) {
    process.stderr.write('No PostgreSQL server found (initdb, pg_ctl, postgres): install one (Debian: apt-get install postgresql) or put its bin directory on PATH.\n');
    process.exit(1);
}
