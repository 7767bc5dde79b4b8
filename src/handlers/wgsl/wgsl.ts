// wgsl: a user handler given as WGSL source (`process_message`, the signature of handler_abi.wgsl). It
// runs on the webgpu engine only, which compiles it into its batch kernel and reports compile errors with
// the line in this source; other engines refuse it when they start.
import { sourceHandler } from '../source-handler.js';

export const wgsl = sourceHandler({
  name: 'wgsl',
  summary: 'user WGSL: `source` defines fn process_message(msg: MsgView, out: ptr<function, ResultView>) -> u32 (webgpu engine)',
  engine: 'webgpu',
  definesEntry: (source) => source.includes('fn process_message('),
  sourceRule: 'WGSL text defining fn process_message(…)',
});
