import { liveRuntimes } from './runtime.ts';


/**
 * Sends every debounced refresh now and waits until every broadcast started so far has been
 * published, on every hapi-turbo server of this process: before a script exits, or before a test
 * looks at what was broadcast.
 */
export const drainBroadcasts = async function (): Promise<void> {

    await Promise.all([...liveRuntimes].map((runtime) => runtime.drain()));
};
