import type { ChildProcess } from 'node:child_process';

// Request/response over the Node IPC channel between the orchestrator and its two children. JSON
// messages only: the children report summaries, never raw samples, so the channel stays cheap and
// does not compete with the work being measured.

interface Request {
    id: number;
    cmd: string;
    args: unknown;
}

interface Response {
    id: number;
    ok: boolean;
    result?: unknown;
    error?: string;
}

export type Handlers = Record<string, (args: never) => unknown>;


/** Child side: answers each request with its handler's (awaited) result. */
export const serve = function (handlers: Handlers): void {

    if (!process.send) {
        throw new Error('this script is started by bench/run.ts over IPC');
    }

    process.on('message', async (message: Request) => {

        const handler = handlers[message.cmd];
        let response: Response;
        try {
            if (!handler) {
                throw new Error(`unknown command ${message.cmd}`);
            }

            response = { id: message.id, ok: true, result: await handler(message.args as never) };
        }
        catch (error) {
            response = { id: message.id, ok: false, error: (error as Error).stack ?? String(error) };
        }

        process.send!(response);
    });

    // The orchestrator going away (a crash, ^C) must not leave a child holding thousands of sockets
    process.on('disconnect', () => process.exit(0));
};


/** Parent side: `call('run', {...})` resolves with the child's result or rejects with its error. */
export const client = function (child: ChildProcess, label: string) {

    let next = 0;
    const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

    child.on('message', (message: Response) => {

        const waiter = pending.get(message.id);
        pending.delete(message.id);
        if (!waiter) {
            return;
        }

        if (message.ok) {
            waiter.resolve(message.result);
        }
        else {
            waiter.reject(new Error(`${label}: ${message.error}`));
        }
    });

    child.on('exit', (code, signal) => {

        for (const waiter of pending.values()) {
            waiter.reject(new Error(`${label} exited (${code ?? signal}) during a request`));
        }

        pending.clear();
    });

    return function call<T = unknown>(cmd: string, args: unknown = {}): Promise<T> {

        const id = ++next;
        return new Promise<T>((resolve, reject) => {

            pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
            child.send({ id, cmd, args } satisfies Request);
        });
    };
};
