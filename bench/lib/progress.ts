/**
 * The progress display: a cli-progress bar on a terminal (steps done, elapsed, the current
 * step), plain timestamped lines otherwise (CI logs, the smoke test).
 */
import cliProgress from 'cli-progress';

export class Progress {
  #bar: cliProgress.SingleBar | null = null;
  #done = 0;
  #started = Date.now();
  constructor(
    private total: number,
    private readonly tty = Boolean(process.stderr.isTTY),
  ) {
    if (this.tty) {
      this.#bar = new cliProgress.SingleBar(
        {
          format: ' {bar} {value}/{total} steps | {duration_formatted} | {step}',
          hideCursor: true,
          clearOnComplete: false,
          barsize: 30,
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      );
      this.#bar.start(total, 0, { step: 'starting' });
    }
  }

  /** Announces the step now running. */
  step(text: string): void {
    if (this.#bar) this.#bar.update(this.#done, { step: text });
    else process.stderr.write(`[bench ${((Date.now() - this.#started) / 1000).toFixed(0).padStart(4)} s] ${text}\n`);
  }

  /** Marks one step done (optionally with a one-line result). */
  tick(result?: string): void {
    this.#done++;
    if (this.#bar) {
      if (this.#done > this.total) this.#bar.setTotal((this.total = this.#done));
      this.#bar.update(this.#done);
      if (result) this.log(result);
    } else if (result) {
      process.stderr.write(`[bench ${((Date.now() - this.#started) / 1000).toFixed(0).padStart(4)} s]   ${result}\n`);
    }
  }

  log(text: string): void {
    if (this.#bar) {
      // cli-progress redraws on the next update; print above the bar.
      process.stderr.write(`\r\x1b[K${text}\n`);
      this.#bar.render();
    } else {
      process.stderr.write(`${text}\n`);
    }
  }

  stop(): void {
    this.#bar?.stop();
  }
}
