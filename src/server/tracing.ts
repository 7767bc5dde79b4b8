// OpenTelemetry spans through @opentelemetry/api only: with no SDK registered they cost next to nothing;
// register one (NodeTracerProvider and an exporter) in the process that runs the server to record them.
// Spans: `gpuqueue.enqueue` per request, `gpuqueue.process` per message (accepted → completed, a child of
// its enqueue span) and `gpuqueue.result` per result read.
import { type Attributes, context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { packageVersion } from '../cli/package-root.js';

export const TRACER_NAME = 'gpuqueue-server';

const VERSION = packageVersion();
// Looked up per span, not once: a provider registered after this module loaded still gets the spans.
const tracer = () => trace.getTracer(TRACER_NAME, VERSION);

export function startEnqueueSpan(queue: string, messages: number, transport: string): Span {
  return tracer().startSpan('gpuqueue.enqueue', {
    kind: SpanKind.PRODUCER,
    attributes: {
      'messaging.system': 'gpuqueue',
      'messaging.destination.name': queue,
      'messaging.batch.message_count': messages,
      'gpuqueue.transport': transport,
    },
  });
}

/** A span per accepted message, child of the enqueue span; only when that one is recorded. */
export function startProcessSpan(parent: Span, queue: string, id: number): Span | undefined {
  if (!parent.isRecording()) return undefined;
  const ctx = trace.setSpan(context.active(), parent);
  return tracer().startSpan(
    'gpuqueue.process',
    { kind: SpanKind.CONSUMER, attributes: { 'messaging.destination.name': queue, 'messaging.message.id': String(id) } },
    ctx,
  );
}

export function startResultSpan(queue: string, id: number): Span {
  return tracer().startSpan('gpuqueue.result', {
    kind: SpanKind.SERVER,
    attributes: { 'messaging.destination.name': queue, 'messaging.message.id': String(id) },
  });
}

export function endSpan(span: Span | undefined, error?: unknown, attributes?: Attributes): void {
  if (!span) return;
  if (!span.isRecording()) {
    span.end();
    return;
  }
  if (attributes) span.setAttributes(attributes);
  if (error !== undefined) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
  }
  span.end();
}
