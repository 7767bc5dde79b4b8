// The bench's integer options (--repeats, --ring-batches): a value in range comes back as a number; a
// missing one as undefined; anything else as null, with the option, its range and the value printed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { integerOption } from '../../bench/src/cli-options.js';

test('an integer option in range is taken, a missing one is undefined', () => {
  assert.equal(integerOption('--ring-batches', '4', 2, 64), 4);
  assert.equal(integerOption('--ring-batches', '64', 2, 64), 64);
  assert.equal(integerOption('--ring-batches', undefined, 2, 64), undefined);
});

test('a value out of range, fractional or not a number is refused, naming the option, the range and the value', (t) => {
  const said: string[] = [];
  t.mock.method(console, 'error', (line: string) => said.push(line));
  for (const bad of ['1', '65', '2.5', 'x', ''])
    assert.equal(integerOption('--ring-batches', bad, 2, 64), null, `value ${JSON.stringify(bad)}`);
  assert.deepEqual(said, [
    '--ring-batches must be an integer from 2 to 64; got "1"',
    '--ring-batches must be an integer from 2 to 64; got "65"',
    '--ring-batches must be an integer from 2 to 64; got "2.5"',
    '--ring-batches must be an integer from 2 to 64; got "x"',
    '--ring-batches must be an integer from 2 to 64; got ""',
  ]);
});
