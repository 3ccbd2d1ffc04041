/** The Chromium the end-to-end tests drive: SCREENASK_CHROMIUM, else the first of the usual Debian/Chrome paths. */
export function findChromium(env?: NodeJS.ProcessEnv): string | undefined;
