// The slice of the WebGPU API this engine calls, typed here so that gpuqueue compiles, and imports, without
// the optional `webgpu` package (whose types come with it). Names and numbers are the W3C spec's.

/** GPUBufferUsage flags. */
export const BufferUsage = {
  MAP_READ: 0x1,
  MAP_WRITE: 0x2,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  UNIFORM: 0x40,
  STORAGE: 0x80,
} as const;

/** GPUMapMode flags. */
export const MapMode = { READ: 0x1, WRITE: 0x2 } as const;

/** GPUShaderStage flags. */
export const ShaderStage = { COMPUTE: 0x4 } as const;

export interface GpuAdapterInfo {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** A software or otherwise limited adapter (lavapipe is one). */
  readonly isFallbackAdapter?: boolean;
}

export interface GpuLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxStorageBuffersPerShaderStage: number;
}

export interface Gpu {
  requestAdapter(options?: {
    powerPreference?: 'low-power' | 'high-performance';
    forceFallbackAdapter?: boolean;
  }): Promise<GpuAdapter | null>;
}

export interface GpuAdapter {
  readonly info: GpuAdapterInfo;
  readonly limits: GpuLimits;
  requestDevice(descriptor?: { label?: string; requiredLimits?: Record<string, number> }): Promise<GpuDevice>;
}

export interface GpuError {
  readonly message: string;
}

export interface GpuDeviceLostInfo {
  readonly reason: 'unknown' | 'destroyed';
  readonly message: string;
}

export interface GpuDevice {
  readonly limits: GpuLimits;
  readonly queue: GpuQueue;
  readonly lost: Promise<GpuDeviceLostInfo>;
  onuncapturederror: ((event: { error: GpuError }) => void) | null;
  createBuffer(descriptor: { label?: string; size: number; usage: number; mappedAtCreation?: boolean }): GpuBuffer;
  createShaderModule(descriptor: { label?: string; code: string }): GpuShaderModule;
  createBindGroupLayout(descriptor: { label?: string; entries: GpuBindGroupLayoutEntry[] }): GpuBindGroupLayout;
  createPipelineLayout(descriptor: { label?: string; bindGroupLayouts: GpuBindGroupLayout[] }): GpuPipelineLayout;
  createComputePipelineAsync(descriptor: {
    label?: string;
    layout: GpuPipelineLayout;
    compute: { module: GpuShaderModule; entryPoint: string };
  }): Promise<GpuComputePipeline>;
  createBindGroup(descriptor: {
    label?: string;
    layout: GpuBindGroupLayout;
    entries: { binding: number; resource: { buffer: GpuBuffer } }[];
  }): GpuBindGroup;
  createCommandEncoder(descriptor?: { label?: string }): GpuCommandEncoder;
  pushErrorScope(filter: 'validation' | 'out-of-memory' | 'internal'): void;
  popErrorScope(): Promise<GpuError | null>;
  destroy(): void;
}

export interface GpuBindGroupLayoutEntry {
  binding: number;
  visibility: number;
  buffer: { type: 'uniform' | 'storage' | 'read-only-storage' };
}

export interface GpuQueue {
  writeBuffer(buffer: GpuBuffer, bufferOffset: number, data: ArrayBuffer | ArrayBufferView, dataOffset?: number, size?: number): void;
  submit(commandBuffers: GpuCommandBuffer[]): void;
  onSubmittedWorkDone(): Promise<void>;
}

export interface GpuBuffer {
  readonly size: number;
  readonly mapState: 'unmapped' | 'pending' | 'mapped';
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}

export interface GpuCompilationMessage {
  readonly message: string;
  readonly type: 'error' | 'warning' | 'info';
  readonly lineNum: number;
  readonly linePos: number;
}

export interface GpuShaderModule {
  getCompilationInfo(): Promise<{ readonly messages: readonly GpuCompilationMessage[] }>;
}

export type GpuBindGroupLayout = object;
export type GpuPipelineLayout = object;
export type GpuComputePipeline = object;
export type GpuBindGroup = object;
export type GpuCommandBuffer = object;

export interface GpuComputePassEncoder {
  setPipeline(pipeline: GpuComputePipeline): void;
  setBindGroup(index: number, group: GpuBindGroup): void;
  dispatchWorkgroups(x: number): void;
  end(): void;
}

export interface GpuCommandEncoder {
  beginComputePass(descriptor?: { label?: string }): GpuComputePassEncoder;
  copyBufferToBuffer(source: GpuBuffer, sourceOffset: number, destination: GpuBuffer, destinationOffset: number, size: number): void;
  finish(): GpuCommandBuffer;
}

/** What the `webgpu` package exports. */
export interface DawnModule {
  create(flags: string[]): Gpu;
  globals: object;
}
