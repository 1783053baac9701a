// The SSE reader on awkward input: chunks split inside lines and inside a UTF-8 character,
// CRLF and CR line ends, comments (keep-alives), multi-line data, ids. Prints what it read.
import { readEvents } from "../dist/index.js";

const text = ": keep-alive\r\n\r\nevent: token\r\ndata: {\"text\": \"Grüße\"}\r\n\r\n" +
  "event: step\r\ndata: line one\r\ndata: line two\nid: 7\n\n: keep-alive\n\n" +
  "data: no event name\r\rdata: unterminated at the end";
const bytes = new TextEncoder().encode(text);
const cut = [1, 13, 30, 44, 49, 58, 61, 87, 90, bytes.length]; // 49: inside ü; 58, 87: CR|LF
const body = new ReadableStream({
  start(controller) {
    let from = 0;
    for (const to of cut) {
      controller.enqueue(bytes.slice(from, to));
      from = to;
    }
    controller.close();
  },
});
const events = [];
for await (const event of readEvents(body)) events.push(event);
console.log(JSON.stringify(events));
