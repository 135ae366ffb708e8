import { createServer, type AddressInfo } from 'node:net';

/** A TCP port free on the loopback interface now, for a throw-away server (PostgreSQL, Redis) to take. */
export const freePort = function (): Promise<number> {

    return new Promise((resolve, reject) => {

        const probe = createServer();
        probe.unref();
        probe.once('error', reject);
        probe.listen(0, '127.0.0.1', () => {

            const { port } = probe.address() as AddressInfo;
            probe.close(() => resolve(port));
        });
    });
};
