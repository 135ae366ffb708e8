// The `hapi-turbo/cli` entry: a command line that sends one Turbo Stream through createBroadcaster()
// (scripts/broadcast.ts is the chat's `npm run broadcast`). Not part of the package index.

import { parseArgs } from 'node:util';

import { CONTENT_ACTIONS, TurboStream, type Content, type ContentAction, type Fragment, type Target } from './fragment.ts';
import type { StandaloneBroadcaster } from './standalone.ts';

export const USAGE = `usage: broadcast <stream> <action> [--target <id> | --targets <css selector>]
                 [--text <text> | --html <html> | --template <name> [--context <json>]]
  <stream>  a stream name: "chat:BroadcastStream", "chat:RoomStream[4]" or any signed name's plain text
  <action>  append, prepend, replace, update, remove, before, after, refresh, or a custom action`;


/** Reads `broadcast` arguments into a stream name and one fragment; throws with a usage line when they do not make sense. */
export const parseBroadcastArgs = function (argv: readonly string[]): { stream: string; fragment: Fragment } {

    const { positionals, values } = parseArgs({
        args: [...argv],
        allowPositionals: true,
        options: {
            target: { type: 'string' },
            targets: { type: 'string' },
            text: { type: 'string' },
            html: { type: 'string' },
            template: { type: 'string' },
            context: { type: 'string' }
        }
    });

    const [stream, action, ...rest] = positionals;
    if (!stream || !action || rest.length) {
        throw new Error(USAGE);
    }

    const target = values.target !== undefined ? { id: values.target } : values.targets !== undefined ? { selector: values.targets } : undefined;
    let content: Content | undefined;
    if (values.text !== undefined) {
        content = { text: values.text };
    }
    else if (values.html !== undefined) {
        content = { html: values.html };
    }
    else if (values.template !== undefined) {
        content = { template: values.template, context: values.context ? JSON.parse(values.context) as object : {} };
    }

    const fragment = action === 'refresh' ? TurboStream.refresh() :
        action === 'remove' ? TurboStream.remove(target as Target) :
            (CONTENT_ACTIONS as readonly string[]).includes(action) ? TurboStream[action as ContentAction](target as Target, content) :
                TurboStream.action(action, target, content);

    return { stream, fragment };
};


/** Runs the command line: parses, broadcasts through `open()`'s broadcaster, closes it. Returns the exit code. */
export const runBroadcastCli = async function (argv: readonly string[], open: () => Promise<StandaloneBroadcaster>, out: { log(line: string): void; error(line: string): void } = console): Promise<number> {

    let parsed;
    try {
        parsed = parseBroadcastArgs(argv);
    }
    catch (error) {
        out.error((error as Error).message);
        return 2;
    }

    const broadcaster = await open();
    try {
        await broadcaster.broadcast(parsed.stream, parsed.fragment);
        const position = broadcaster.turbo.position(parsed.stream);
        out.log(`sent ${parsed.fragment.action} to ${parsed.stream} (seq ${position.seq})`);
        return 0;
    }
    catch (error) {
        out.error(`broadcast failed: ${(error as Error).message}`);
        return 1;
    }
    finally {
        await broadcaster.close();
    }
};
