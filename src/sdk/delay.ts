// An abortable sleep on plain timers, usable in browsers and in the runner alike.

/**
 * Resolves after `ms`, or early (without throwing) when `signal` aborts.
 * @example await delay(500, controller.signal);
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
