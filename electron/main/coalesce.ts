// Jobs that bring something up to date with "the latest state" (load the selected model, send the models list) must
// not overlap, or an older run could finish last and win. Wrapped here, calls never overlap: a call made while the job
// runs schedules exactly one more run after it, however many calls came in, so intermediate states are skipped and
// the latest one is never missed.

/**
 * Returns the coalesced job. Each call's promise settles once a run that started after the call has finished. The job
 * must report its own failures and never reject (a rejection ends the runs still owed).
 */
export function coalesce(job: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await job();
        } while (again);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
}
