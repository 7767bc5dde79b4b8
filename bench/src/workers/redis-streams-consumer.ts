// The hand-written Streams loop's consumer: XREADGROUP up to `count` entries (one per message), FNV-1a
// each payload, then one pipeline of an XADD per result, XACK and XDEL for the entries read.
import { fnv1a } from 'gpuqueue';
import { Redis } from 'ioredis';
import { runConsumerProcess } from './consumer-process.js';

type Entries = [Buffer, Buffer[]][];

runConsumerProcess<{ url: string; stream: string; results: string; group: string; count: number }>(async (o) => {
  const reader = new Redis(o.url);
  const writer = new Redis(o.url);
  let stopping = false;
  let messages = 0;
  const loop = (async () => {
    while (!stopping) {
      const reply = (await reader.xreadgroupBuffer('GROUP', o.group, 'c1', 'COUNT', o.count, 'BLOCK', 200, 'STREAMS', o.stream, '>')) as
        | [Buffer, Entries][]
        | null;
      const entries = reply?.[0]?.[1];
      if (!entries || entries.length === 0) continue;
      const pipe = writer.pipeline();
      const ids: Buffer[] = [];
      // fields: i <sequence> p <payload>
      for (const [id, fields] of entries) {
        ids.push(id);
        pipe.xadd(o.results, 'MAXLEN', '~', 1_000_000, '*', 'i', fields[1] as Buffer, 'c', fnv1a(fields[3] as Buffer));
      }
      pipe.xack(o.stream, o.group, ...ids);
      pipe.xdel(o.stream, ...ids);
      await pipe.exec();
      messages += entries.length;
    }
  })();
  return async () => {
    stopping = true;
    await loop;
    reader.disconnect();
    writer.disconnect();
    return { consumer: { messages, readCount: o.count } };
  };
});
