// OpenTelemetry spans of the server, recorded with the SDK's in-memory exporter: one enqueue span per
// request, one process span per message (its child, accepted → completed), one result span per read.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { TRACER_NAME } from '../../src/server/tracing.js';
import { frames, postBytes, type RunningServer, startServer } from './server-kit.js';

describe('gpuqueue serve: traces', () => {
  const exporter = new InMemorySpanExporter();
  let s: RunningServer;
  before(async () => {
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    s = await startServer();
  });
  after(async () => {
    await s.close();
    trace.disable();
  });

  it('records enqueue, process and result spans, the process spans children of their enqueue span', async () => {
    const { id } = (await (await postBytes(`${s.url}/queues/default/messages`, Buffer.from('traced'))).json()) as { id: number };
    assert.equal((await fetch(`${s.url}/queues/default/results/${id}`)).status, 200);
    const { ids } = (await (await postBytes(`${s.url}/queues/default/batch`, frames([Buffer.from('a'), Buffer.from('b')]))).json()) as {
      ids: number[];
    };
    for (const i of ids) await fetch(`${s.url}/queues/default/results/${i}`);
    const spans = exporter.getFinishedSpans();
    assert.ok(spans.every((sp) => sp.instrumentationScope.name === TRACER_NAME));
    const named = (name: string) => spans.filter((sp) => sp.name === name);
    const enqueues = named('gpuqueue.enqueue');
    assert.equal(enqueues.length, 2);
    assert.equal(enqueues[0]?.attributes['messaging.message.id'], String(id));
    assert.equal(enqueues[1]?.attributes['messaging.batch.message_count'], 2);
    const processes = named('gpuqueue.process');
    assert.deepEqual(processes.map((sp) => sp.attributes['messaging.message.id']).sort(), [id, ...ids].map(String).sort());
    for (const p of processes) {
      const parent = enqueues.find((e) => e.spanContext().spanId === p.parentSpanContext?.spanId);
      assert.ok(parent, 'a process span is the child of its enqueue span');
      assert.equal(p.spanContext().traceId, parent.spanContext().traceId);
      assert.equal(p.attributes['gpuqueue.status'], 'ok');
    }
    const results = named('gpuqueue.result');
    assert.equal(results.length, 3);
    assert.ok(results.every((r) => r.attributes['gpuqueue.status'] === 'ok'));
  });

  it('marks a failed request span as an error', async () => {
    exporter.reset();
    await fetch(`${s.url}/queues/default/results/999999?timeoutMs=0`);
    const [span] = exporter.getFinishedSpans();
    assert.equal(span?.name, 'gpuqueue.result');
    assert.equal(span?.status.code, 2);
  });
});
