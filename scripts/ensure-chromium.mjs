#!/usr/bin/env node
// Finds a Chromium for the end-to-end tests, installing Debian's `chromium` package when none is present and this
// machine can (root with apt-get, or passwordless sudo). Prints the executable's path; on failure prints one line
// saying what to do and exits 1. SCREENASK_CHROMIUM overrides the search.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

const executable = (file) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

export function findChromium(env = process.env) {
  if (env.SCREENASK_CHROMIUM) return executable(env.SCREENASK_CHROMIUM) ? env.SCREENASK_CHROMIUM : undefined;
  return CANDIDATES.find(executable);
}

function run(command, args) {
  return spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function installWithApt() {
  const hasApt = run('apt-get', ['--version']).status === 0;
  if (!hasApt) return 'apt-get is not available';
  const root = process.getuid?.() === 0;
  const sudo = !root && run('sudo', ['-n', 'true']).status === 0;
  if (!root && !sudo) return 'installing needs root (or passwordless sudo)';
  const apt = (args) => (root ? run('apt-get', args) : run('sudo', ['-n', 'apt-get', ...args]));
  process.stderr.write('ensure-chromium: installing Debian\'s chromium package for the end-to-end tests…\n');
  // A fresh machine's package lists may be empty or stale: update once if the first attempt fails.
  if (apt(['install', '-y', '--no-install-recommends', 'chromium']).status === 0) return undefined;
  apt(['update']);
  const second = apt(['install', '-y', '--no-install-recommends', 'chromium']);
  return second.status === 0 ? undefined : `apt-get install chromium failed: ${second.stderr.toString().trim().split('\n').pop()}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let found = findChromium();
  let why = 'no Chromium found';
  if (!found && !process.env.SCREENASK_CHROMIUM) {
    why = installWithApt() ?? why;
    found = findChromium();
  }
  if (!found) {
    process.stderr.write(
      `ensure-chromium: ${process.env.SCREENASK_CHROMIUM ? `SCREENASK_CHROMIUM=${process.env.SCREENASK_CHROMIUM} is not an executable` : why}; ` +
        'install it (Debian/Ubuntu: sudo apt-get install chromium) or set SCREENASK_CHROMIUM to a Chromium or Chrome binary.\n',
    );
    process.exit(1);
  }
  const version = execFileSync(found, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  process.stdout.write(`${found} (${version})\n`);
}
