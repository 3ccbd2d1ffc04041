import { ScreenAskError } from '../model/errors.js';

/**
 * Runs a command-line entry point: a user's mistake (ScreenAskError) is one line on stderr and exit code 1; anything
 * else is a bug, also one line, with the stack only when SCREENASK_DEBUG is set.
 */
export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    if (error instanceof ScreenAskError) {
      process.stderr.write(`error: ${error.message}\n`);
    } else {
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      process.stderr.write(`error: ${message} (unexpected; set SCREENASK_DEBUG=1 for details)\n`);
      if (process.env.SCREENASK_DEBUG) console.error(error);
    }
    process.exitCode = 1;
  }
}
