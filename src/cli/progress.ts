// Progress for long-running commands: a cli-progress bar when stdout is a terminal, and one plain line per
// second otherwise (CI logs, pipes), where a redrawn bar would only leave escape codes behind.
import cliProgress from 'cli-progress';

export interface ProgressSample {
  /** Messages completed so far. */
  done: number;
  depth: number;
  deadLetters: number;
}

export interface Progress {
  /** Draws the final state and stops updating. */
  stop(): void;
}

const TTY_REFRESH_MS = 100;
const LINE_EVERY_MS = 1000;

const count = (n: number) => Math.round(n).toLocaleString('en-US');

/** Shows progress over `totalS` seconds, sampling `sample()` on every refresh. */
export function showProgress(
  label: string,
  totalS: number,
  sample: () => ProgressSample,
  stream: NodeJS.WriteStream = process.stdout,
): Progress {
  const started = performance.now();
  let last = { atMs: started, done: 0 };
  const rate = (s: ProgressSample, now: number) => {
    const perS = now > last.atMs ? ((s.done - last.done) * 1000) / (now - last.atMs) : 0;
    last = { atMs: now, done: s.done };
    return perS;
  };

  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${label} {bar} {elapsedS}/{totalS} s | {done} done | {rate} msg/s | depth {depth} | {deadLetters} dead letters`,
        hideCursor: true,
        barsize: 24,
      },
      cliProgress.Presets.shades_classic,
    );
    const values = (s: ProgressSample, now: number) => ({
      elapsedS: ((now - started) / 1000).toFixed(1),
      totalS,
      done: count(s.done),
      rate: count(rate(s, now)),
      depth: count(s.depth),
      deadLetters: count(s.deadLetters),
    });
    bar.start(totalS * 10, 0, values(sample(), started));
    const timer = setInterval(() => {
      const now = performance.now();
      bar.update(Math.min(totalS * 10, Math.floor((now - started) / 100)), values(sample(), now));
    }, TTY_REFRESH_MS);
    return {
      stop() {
        clearInterval(timer);
        const now = performance.now();
        bar.update(Math.min(totalS * 10, Math.floor((now - started) / 100)), values(sample(), now));
        bar.stop();
      },
    };
  }

  const line = () => {
    const now = performance.now();
    const s = sample();
    const elapsed = ((now - started) / 1000).toFixed(0);
    stream.write(
      `${label} ${elapsed}/${totalS} s: ${count(s.done)} done, ${count(rate(s, now))} msg/s, depth ${count(s.depth)}, ${count(s.deadLetters)} dead letters\n`,
    );
  };
  const timer = setInterval(line, LINE_EVERY_MS);
  return {
    stop() {
      clearInterval(timer);
    },
  };
}
