// Starts a fixture server with live socket.io subscribers, then stops it. The process must then
// exit on its own: a left-over socket, timer or handle would keep it alive.
import { createFixture } from '../fixture.ts';

const fixture = await (await createFixture()).start();
const topic = await fixture.Topic.create({ title: 'News' });
const sockets = await Promise.all([fixture.client(), fixture.client(), fixture.client()]);
for (const socket of sockets) {
    await fixture.subscribe(socket, fixture.server.turbo.signedStreamName(topic));
}

await fixture.Post.create({ body: 'one', topicId: topic.id });
await fixture.close();
process.stdout.write('stopped\n');
