// Model hooks run the app's onSave/onDelete, which may start broadcasts without awaiting them
// (`void stream.append(...)`). The write's hook waits for those too, so a test or a script that
// awaited the write has its broadcasts published.
//
// The scope is the synchronous run of the body: broadcasts a hook starts before its first await are
// collected, and those it starts later are the ones it awaits itself. No AsyncLocalStorage: once
// used, it keeps async_hooks on for every promise of the process.

let current: Set<Promise<void>> | null = null;


/** Called by the broadcaster for every broadcast it starts: joins the hook body running now, if any. */
export const joinHookScope = function (broadcast: Promise<void>): void {

    current?.add(broadcast);
};


const runScoped = function (body: () => unknown, outer: Set<Promise<void>> | null): unknown {

    try {
        return body();
    }
    finally {
        current = outer;
    }
};


/**
 * Runs model-hook code, then waits for the broadcasts it started; what the body throws or rejects
 * with goes to `fail`. Never rejects: a failing broadcast never fails the database write.
 */
export const runHook = async function (body: () => unknown, fail: (error: Error) => void): Promise<void> {

    const started = new Set<Promise<void>>();
    const outer = current;
    current = started;
    try {
        await Promise.resolve(runScoped(body, outer));
    }
    catch (error) {
        fail(error as Error);
    }

    // Broadcasts the hook started without awaiting them still belong to the write; the broadcaster
    // reported their failures
    await Promise.allSettled(started);
};
