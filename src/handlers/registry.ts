// The handler registry: built-ins by name, each resolved from what the user wrote (a name, or a name with
// parameters) into a HandlerSpec of plain data that every consumer thread and engine rebuilds the same way.
import { describeValue, InvalidArgumentError } from '../core/errors.js';
import type { HandlerOption } from '../core/options.js';
import { checksum } from './checksum/checksum.js';
import { crash } from './crash/crash.js';
import { cudaSource } from './cuda/cuda.js';
import { echo } from './echo/echo.js';
import { fault } from './fault/fault.js';
import type { HandlerDefinition, HandlerParams, HandlerSpec, JsHandler } from './handler.js';
import { slow } from './slow/slow.js';
import { vectorStatsHandler } from './vector-stats/vector-stats.js';
import { wgsl } from './wgsl/wgsl.js';

const builtins = new Map<string, HandlerDefinition>(
  [
    echo,
    checksum,
    vectorStatsHandler,
    fault as unknown as HandlerDefinition,
    slow as unknown as HandlerDefinition,
    crash as unknown as HandlerDefinition,
    wgsl as unknown as HandlerDefinition,
    cudaSource as unknown as HandlerDefinition,
  ].map((d) => [d.name, d]),
);

export const handlerNames = (): string[] => [...builtins.keys()];

export function handlerDefinition(name: string): HandlerDefinition {
  const d = builtins.get(name);
  if (!d) throw new InvalidArgumentError(`unknown handler ${describeValue(name)}; known handlers: ${handlerNames().join(', ')}`);
  return d;
}

/** Checks a handler option (recursively for wrappers) and returns its plain-data spec. */
export function resolveHandler(option: HandlerOption): HandlerSpec {
  const { name, ...rest } = typeof option === 'string' ? { name: option } : option;
  const definition = handlerDefinition(name);
  const input: HandlerParams = { ...rest };
  if (definition.wrapsInner) {
    if (input.inner === undefined)
      throw new InvalidArgumentError(`handler ${name} wraps another: give its name as \`inner\` (e.g. inner: 'checksum')`);
    input.inner = resolveHandler(input.inner as HandlerOption);
  }
  const params = definition.params(input);
  const unknown = Object.keys(input).filter((k) => !(k in params));
  if (unknown.length > 0) {
    const known = Object.keys(params);
    throw new InvalidArgumentError(
      `handler ${name} has no parameter ${unknown.map((k) => JSON.stringify(k)).join(', ')}; its parameters: ${known.length > 0 ? known.join(', ') : 'none'}`,
    );
  }
  return { name, params };
}

/** Result bytes the handler needs for payloads of `slotBytes`. */
export function handlerResultBytes(spec: HandlerSpec, slotBytes: number): number {
  const definition = handlerDefinition(spec.name);
  if (definition.wrapsInner) return handlerResultBytes(spec.params.inner as HandlerSpec, slotBytes);
  return definition.resultBytes?.(slotBytes, spec.params) ?? slotBytes;
}

/** Builds the JS implementation of a spec (wrappers around their inner handler). */
export function buildJsHandler(spec: HandlerSpec): JsHandler {
  const definition = handlerDefinition(spec.name);
  const inner = definition.wrapsInner ? buildJsHandler(spec.params.inner as HandlerSpec) : undefined;
  return definition.js(spec.params, inner);
}
