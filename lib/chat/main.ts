// `npm start`: serves the chat on http://localhost:3000.
// PORT, HOST, DATABASE_URL ("sqlite:<path>", "sqlite::memory:" or "postgres://user:password@host/db"),
// SECRET and REDIS_URL override the defaults. Without SECRET a development key is generated once and
// kept in data/secret; REDIS_URL lets several processes serve the same chat (docs/scaling.md).

import { createServer } from './server.ts';


const main = async function (): Promise<void> {

    const { server } = await createServer({
        port: process.env.PORT ?? 3000,
        host: process.env.HOST ?? 'localhost',
        databaseUrl: process.env.DATABASE_URL || undefined,
        secret: process.env.SECRET || undefined,
        redisUrl: process.env.REDIS_URL || undefined
    });

    // hapi-turbo reports failed broadcasts and Redis outages through server.log()
    server.events.on('log', (event) => {

        console.error(`[${event.tags.join(', ')}] ${(event.data as { message?: string } | undefined)?.message ?? ''}`);
    });

    await server.start();
    console.log(`Chat is running at ${server.info.uri}`);

    const stop = async (signal: NodeJS.Signals) => {

        console.log(`${signal}: stopping`);
        await server.stop({ timeout: 5000 });
        process.exit(0);
    };

    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
};


main().catch((error: unknown) => {

    console.error(error);
    process.exit(1);
});
