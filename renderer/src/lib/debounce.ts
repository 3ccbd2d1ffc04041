/** Runs `fn` once `ms` after the last call; `flush` runs a pending call now, `cancel` drops it. */
/** `ms` may be a function, read at each call (a component prop that could change). */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number | (() => number)) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pending: A | undefined;
  const run = () => {
    timer = undefined;
    const args = pending;
    pending = undefined;
    if (args) fn(...args);
  };
  return {
    call(...args: A) {
      pending = args;
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(run, typeof ms === 'number' ? ms : ms());
    },
    flush() {
      if (timer !== undefined) clearTimeout(timer);
      run();
    },
    cancel() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      pending = undefined;
    },
  };
}
