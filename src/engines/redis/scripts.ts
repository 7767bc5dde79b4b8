// The Lua scripts of the protocol (lua/*.lua, each opening with its keys, arguments and outputs), loaded
// once per process and run by EVALSHA, falling back to EVAL when the server does not know the script yet
// (a fresh or restarted Redis). The files are read from beside the compiled module, else from the
// source tree (the published package ships src/engines/redis/lua).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { RedisClient } from './connection.js';

export interface LuaScript {
  name: string;
  keys: number;
  source: string;
  sha: string;
}

const PLACES = [new URL('./lua/', import.meta.url), new URL('../../../../src/engines/redis/lua/', import.meta.url)];

function load(name: string, keys: number): LuaScript {
  const place = PLACES.find((dir) => existsSync(new URL(`${name}.lua`, dir)));
  if (!place) throw new Error(`gpuqueue: the Lua script ${name}.lua is missing (looked in ${PLACES.map((p) => p.pathname).join(', ')})`);
  const source = readFileSync(new URL(`${name}.lua`, place), 'utf8');
  return { name, keys, source, sha: createHash('sha1').update(source).digest('hex') };
}

let loaded: Record<'ship' | 'publishResult' | 'deadLetter' | 'leaseRenew' | 'leaseRelease', LuaScript> | undefined;

export function scripts(): NonNullable<typeof loaded> {
  loaded ??= {
    ship: load('ship', 1),
    publishResult: load('publish-result', 3),
    deadLetter: load('dead-letter', 4),
    leaseRenew: load('lease-renew', 1),
    leaseRelease: load('lease-release', 1),
  };
  return loaded;
}

type Arg = string | number | Buffer;

/** Runs a script by its SHA, sending its source only when the server answers NOSCRIPT. */
export async function runScript(client: RedisClient, script: LuaScript, keys: string[], args: Arg[]): Promise<unknown> {
  if (keys.length !== script.keys) throw new Error(`${script.name}.lua takes ${script.keys} keys; got ${keys.length}`);
  try {
    return await client.evalsha(script.sha, script.keys, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return client.eval(script.source, script.keys, ...keys, ...args);
  }
}
