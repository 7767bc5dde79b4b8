// Checks of the bench's command-line values (main.ts), apart so they can be tested without a run.

/**
 * An integer option from `min` to `max`: undefined when not given, null when bad (after printing which
 * option, the range and the value given).
 */
export function integerOption(name: string, value: string | undefined, min: number, max: number): number | undefined | null {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (Number.isInteger(n) && n >= min && n <= max) return n;
  console.error(`${name} must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`);
  return null;
}
