import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const MIN_BYTES = 32;


/**
 * The key that signs stream names. Production must pass one (SECRET). Elsewhere a random key is
 * made on first start and kept in `file`, so pages left open across a restart keep their streams.
 */
export const loadSecret = async function (file: string): Promise<string> {

    if (process.env.NODE_ENV === 'production') {
        throw new Error(`Set SECRET (at least ${MIN_BYTES} bytes) to sign stream names in production`);
    }

    const saved = await readFile(file, 'utf8').catch(() => '');
    if (Buffer.byteLength(saved.trim()) >= MIN_BYTES) {
        return saved.trim();
    }

    const secret = randomBytes(MIN_BYTES).toString('hex');
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, secret + '\n', { mode: 0o600 });
    return secret;
};
