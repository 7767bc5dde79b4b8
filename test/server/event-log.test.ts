// The bounded event log behind Server-Sent Events: numbering, replay after an id, the gap a client far
// behind is told about, and completion data made only when read.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventLog, eventText } from '../../src/server/event-log.js';

describe('EventLog', () => {
  it('numbers events from 1 and replays those after a given id, oldest first', () => {
    const log = new EventLog(16);
    for (let i = 1; i <= 5; i++) log.append('stats', `{"n":${i}}`);
    assert.equal(log.lastSeq, 5);
    const { events, gap } = log.after(2, 100);
    assert.equal(gap, false);
    assert.deepEqual(
      events.map((e) => [e.seq, eventText(e)]),
      [
        [3, '{"n":3}'],
        [4, '{"n":4}'],
        [5, '{"n":5}'],
      ],
    );
    assert.deepEqual(log.after(5, 100).events, []);
    assert.equal(log.after(0, 2).events.length, 2, 'at most max');
  });

  it('keeps only the last `size` events and reports a gap to a reader further behind', () => {
    const log = new EventLog(16);
    for (let i = 1; i <= 40; i++) log.append('completion', String(i));
    assert.equal(log.firstSeq, 25);
    const { events, gap } = log.after(3, 100);
    assert.equal(gap, true);
    assert.deepEqual(
      events.map((e) => e.seq),
      Array.from({ length: 16 }, (_, i) => 25 + i),
    );
  });

  it('makes a lazy event text once, when first read, and tells subscribers of each append', () => {
    const log = new EventLog(16);
    let made = 0;
    let told = 0;
    const off = log.subscribe(() => told++);
    log.append('completion', () => {
      made++;
      return '{"id":1}';
    });
    assert.equal(made, 0);
    const [e] = log.after(0, 1).events;
    assert.equal(eventText(e as never), '{"id":1}');
    assert.equal(eventText(e as never), '{"id":1}');
    assert.equal(made, 1);
    off();
    log.append('stats', '{}');
    assert.equal(told, 1);
  });
});
