import { ModelStream, Stream, TurboStream } from 'hapi-turbo';
import { Message, Room } from './models.ts';

// Every exported Stream subclass is registered as "chat:<ClassName>"


/** The room detail page subscribes to its room: `{{turbo_subscribe room}}`. */
export class RoomStream extends ModelStream<Room> {

    static override model = Room;

    override async onSave(room: Room, created: boolean) {

        if (created) {
            await new RoomListStream().addRoom(room);
        }
    }

    // The database deletes a room's messages with it, so no message hook runs: pages showing the
    // room refresh instead, and find it gone
    override async onDelete(room: Room) {

        await room.stream.refresh();
    }
}


/** Messages are saved one by one but shown on their room's page, so they broadcast on the room's stream. */
export class MessageStream extends ModelStream<Message> {

    static override model = Message;

    override async onSave(message: Message, created: boolean) {

        // Named by the room's id: loading the room would cost a query per message
        const roomStream = new RoomStream(message.roomId);
        if (created) {
            // One message, rendered once: the new message, then a flash on it (static/chat/actions.js)
            await roomStream.stream(
                TurboStream.append({ id: 'messages' }, { template: 'chat/components/message', context: { message } }),
                TurboStream.action('highlight', { id: `message-${message.id}` })
            );
            return;
        }

        // Morphed, so a reader's focus and scroll stay put; the editor's own window has the
        // HTTP answer already, so it gets a placeholder instead
        await roomStream.replace('chat/components/message', { message }, { id: `message-${message.id}` }, { method: 'morph', toOthers: true });
    }

    override async onDelete(message: Message) {

        await new RoomStream(message.roomId).remove({ id: `message-${message.id}` });
    }
}


/** The room list page: `{{turbo_subscribe "chat:RoomListStream"}}`. */
export class RoomListStream extends Stream {

    addRoom(room: Room) {

        return this.append('chat/components/room_list_item', { room }, { id: 'room_list' });
    }

    deleteAll() {

        return this.remove({ selector: '#room_list li' });
    }
}


/** The broadcast box demo: a plain stream, fed by the /broadcast form (or by anyone holding the server). */
export class BroadcastStream extends Stream {
}


// The components page (lib/chat/components.ts): exported here, they are registered with the streams
export { AlertComponent, CounterComponent } from './components.ts';
