// Every Redis key of a queue, in one place. A partition's keys share the hash tag `{<name>:p<n>}`, so
// they live in one Redis Cluster slot and one Lua script may touch all of them (stream, lease, done
// marks, dead letters, and the inboxes that results go to).
//
//   gq:{<name>:p<n>}:stream                   messages shipped by producers (consumer group `workers`)
//   gq:{<name>:p<n>}:lease                    which worker consumes partition n now (SET NX PX)
//   gq:{<name>:p<n>}:dead                     dead letters of partition n (capped)
//   gq:{<name>:p<n>}:inbox:<producer>         results for one producer's messages of partition n
//   gq:{<name>:p<n>}:done:<producer>:<first>  "this batch's result was published" (expires)
//   gq:{<name>}:partitions                    how many partitions producers use (sorted set, GT)
//   gq:{<name>}:config:<digest>               handler and geometry a producer's batches need

export const GROUP = 'workers';

const tag = (name: string, partition: number): string => `gq:{${name}:p${partition}}`;

export const streamKey = (name: string, partition: number): string => `${tag(name, partition)}:stream`;
export const leaseKey = (name: string, partition: number): string => `${tag(name, partition)}:lease`;
export const deadKey = (name: string, partition: number): string => `${tag(name, partition)}:dead`;
export const inboxKey = (name: string, partition: number, producer: string): string => `${tag(name, partition)}:inbox:${producer}`;
export const doneKey = (name: string, partition: number, producer: string, firstId: number): string =>
  `${tag(name, partition)}:done:${producer}:${firstId}`;
export const partitionsKey = (name: string): string => `gq:{${name}}:partitions`;
export const configKey = (name: string, digest: string): string => `gq:{${name}}:config:${digest}`;

/** Every key pattern of a queue, for `deleteQueueKeys` (tests, and `gpuqueue worker --purge`). */
export const keyPatterns = (name: string): string[] => [`gq:{${name}:p*}:*`, `gq:{${name}}:*`];
