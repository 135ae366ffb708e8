import { Stream } from '../../../../lib/turbo/index.ts';

// Found by discovery as "news:TickerStream"; the re-exported base class is not registered
export { Stream };

export class TickerStream extends Stream {}

export const notAStream = 42;
