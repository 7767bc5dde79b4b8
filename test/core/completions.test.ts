// The completion store (core/completions.ts): taking by id and polling in arrival order, interleaved at
// random over tens of thousands of operations, must behave exactly like a plain model of it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Completion, CompletionStore } from '../../src/core/completions.js';
import { seededRandom } from '../support/contract-kit.js';

const completion = (id: number): Completion => ({ id, status: 'ok', data: new Uint8Array([id & 0xff]), attempts: 1, handlerStatus: 0 });

describe('CompletionStore', () => {
  it('polls completions in arrival order and takes any one by id, each exactly once', () => {
    const store = new CompletionStore(1000);
    for (const id of [5, 3, 9, 1]) store.add(completion(id));
    assert.equal(store.retained, 4);
    assert.equal(store.take(9)?.id, 9);
    assert.equal(store.take(9), undefined, 'a taken completion is gone');
    assert.deepEqual(
      store.poll(10).map((c) => c.id),
      [5, 3, 1],
    );
    assert.equal(store.retained, 0);
    assert.equal(store.take(5), undefined);
    assert.deepEqual(store.poll(10), []);
  });

  it('hands a completion to the callers waiting on its id instead of keeping it', () => {
    const store = new CompletionStore(1000);
    const got: number[] = [];
    const waiter = { resolve: (c: Completion) => got.push(c.id) };
    store.wait(7, waiter);
    store.wait(7, { resolve: (c) => got.push(-c.id) });
    assert.equal(store.waiting, 1, 'one id is waited on');
    store.add(completion(7));
    assert.deepEqual(got, [7, -7]);
    assert.equal(store.retained, 0);
    assert.equal(store.waiting, 0);
    store.wait(8, waiter);
    store.unwait(8, waiter);
    store.add(completion(8));
    assert.equal(store.retained, 1, 'after unwait the completion is kept');
  });

  it('calls arrival listeners once, on the next notification', () => {
    const store = new CompletionStore(1000);
    let calls = 0;
    store.onNextArrival(() => calls++);
    store.notifyArrivals();
    store.notifyArrivals();
    assert.equal(calls, 1);
  });

  it('bounds the dead-letter record, dropping the oldest and counting what it dropped', () => {
    const store = new CompletionStore(3);
    for (let id = 1; id <= 5; id++) store.addDeadLetter({ id, payload: new Uint8Array(0), attempts: 1, handlerStatus: 1, reason: 'r' });
    assert.equal(store.deadLettersDropped, 2);
    assert.deepEqual(
      store.takeDeadLetters().map((d) => d.id),
      [3, 4, 5],
    );
  });

  it('takes the dead-letter record, leaving it empty', () => {
    const store = new CompletionStore(1000);
    store.addDeadLetter({ id: 1, payload: new Uint8Array([1]), attempts: 2, handlerStatus: 1, reason: 'r' });
    assert.equal(store.deadLetterCount, 1);
    assert.deepEqual(
      store.takeDeadLetters().map((d) => d.id),
      [1],
    );
    assert.deepEqual(store.takeDeadLetters(), []);
  });

  it('matches a simple model over 60k random adds, takes by id and polls, through many compactions', () => {
    const rand = seededRandom(99);
    const store = new CompletionStore(1000);
    // The model: ids in arrival order, and which of them are still kept.
    const order: number[] = [];
    let head = 0;
    const kept = new Set<number>();
    let nextId = 1;
    const pickKept = (): number => {
      for (let tries = 0; tries < 8 && head < order.length; tries++) {
        const id = order[head + Math.floor(rand() * (order.length - head))] as number;
        if (kept.has(id)) return id;
      }
      return nextId + 5; // an id that is not kept
    };
    for (let step = 0; step < 60_000; step++) {
      const r = rand();
      if (r < 0.45) {
        const burst = 1 + Math.floor(rand() * 20);
        for (let i = 0; i < burst; i++) {
          store.add(completion(nextId));
          order.push(nextId);
          kept.add(nextId++);
        }
      } else if (r < 0.75) {
        const pick = pickKept();
        const got = store.take(pick);
        if (kept.delete(pick)) assert.equal(got?.id, pick, `step ${step}: take(${pick})`);
        else assert.equal(got, undefined, `step ${step}: take(${pick}) of an id not kept`);
      } else {
        const max = 1 + Math.floor(rand() * 25);
        const want: number[] = [];
        while (want.length < max && head < order.length) {
          const id = order[head++] as number;
          if (kept.delete(id)) want.push(id);
        }
        assert.deepEqual(
          store.poll(max).map((c) => c.id),
          want,
          `step ${step}: poll(${max})`,
        );
      }
      assert.equal(store.retained, kept.size, `step ${step}: retained`);
    }
    assert.ok(head > 10_000 && kept.size > 1000, `the run should both advance far and keep many (${head}, ${kept.size})`);
    assert.deepEqual(
      store.poll(kept.size + 1).map((c) => c.id),
      order.slice(head).filter((id) => kept.has(id)),
    );
  });
});
