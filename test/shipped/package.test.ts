// The package electron-builder makes of out/, asked of electron-builder itself: its own schema for the configuration,
// its own packager (offline, `--dir`, with a stand-in of Electron's distribution) for Linux, Windows and macOS, and
// the produced app.asar and app.asar.unpacked read back with @electron/asar. Fuses are flipped in the real binary's
// sentinel, which a stand-in does not have, so these runs turn fuses off; the fuse settings themselves are checked
// by the schema test and take effect on the release runners (.github/workflows/dist.yml).
import { readFile, readdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Arch, Platform, build } from 'electron-builder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineSupervisor } from '../../electron/main/engine-supervisor.js';
import { createNodeLauncher } from '../../electron/main/process-launcher.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { writeScreenshotLike } from '../support/images.js';
import { repoRoot } from '../support/run-script.js';
import { fakeElectronDir } from './build-output.js';
import { writeElectronStandIn, type PackagePlatform } from './electron-stand-in.js';

const require = createRequire(import.meta.url);
const asar = require('@electron/asar') as {
  listPackage(archive: string, options: { isPack: boolean }): string[];
  extractAll(archive: string, dest: string): void;
};
type Configuration = Record<string, unknown>;
const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
  getConfig(projectDir: string, configPath: string | null, configFromOptions: Configuration | null): Promise<Configuration>;
  validateConfiguration(config: Configuration, debugLogger: unknown): Promise<void>;
};
const { DebugLogger } = require('builder-util/out/DebugLogger.js') as { DebugLogger: new (enabled: boolean) => unknown };

const ORT_BIN = 'node_modules/onnxruntime-node/bin/napi-v6';
const ortBindings = async () =>
  (await Promise.all((await readdir(path.join(repoRoot, ORT_BIN))).map(async (os_) => (await readdir(path.join(repoRoot, ORT_BIN, os_))).map((arch) => `${os_}/${arch}`)))).flat();

let root: string;
let config: Configuration;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-package-'));
  config = await getConfig(repoRoot, path.join(repoRoot, 'electron-builder.yml'), null);
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('electron-builder.yml', () => {
  it("passes electron-builder's own schema; an option it does not know is refused (the check is live)", async () => {
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
    await expect(validateConfiguration({ ...config, electronFuses: { ...(config.electronFuses as object), noSuchFuse: true } }, new DebugLogger(false))).rejects.toThrow(/noSuchFuse|electronFuses/);
    expect(config.electronFuses).toMatchObject({ runAsNode: false, onlyLoadAppFromAsar: true, grantFileProtocolExtraPrivileges: false });
  });

  it('every target names its architectures and each has an ONNX Runtime binding; macOS is Apple silicon only', async () => {
    const bindings = new Set(await ortBindings());
    expect(bindings.has('darwin/x64')).toBe(false);
    const platforms = { linux: 'linux', win: 'win32', mac: 'darwin' } as const;
    for (const [key, ortOs] of Object.entries(platforms)) {
      const targets = (config[key] as { target: Array<{ target: string; arch: string[] }> }).target;
      expect(targets.length).toBeGreaterThan(0);
      for (const { target, arch } of targets) {
        expect([key, target, arch.length > 0]).toEqual([key, target, true]);
        for (const a of arch) expect([key, target, a, bindings.has(`${ortOs}/${a}`)]).toEqual([key, target, a, true]);
      }
    }
    expect((config.mac as { target: Array<{ arch: string[] }> }).target.flatMap((t) => t.arch)).toEqual(['arm64']);
  });
});

/** Where electron-builder puts `resources/` for each platform's unpacked app. */
async function resourcesDir(output: string, platform: PackagePlatform): Promise<string> {
  if (platform === 'linux') return path.join(output, 'linux-unpacked', 'resources');
  if (platform === 'win32') return path.join(output, 'win-unpacked', 'resources');
  const bundle = (await readdir(path.join(output, 'mac-arm64'))).find((name) => name.endsWith('.app'));
  return path.join(output, 'mac-arm64', bundle ?? 'no .app bundle', 'Contents', 'Resources');
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
}

const packaged = new Map<PackagePlatform, string>();

async function packageFor(platform: PackagePlatform, arch: 'x64' | 'arm64'): Promise<string> {
  const output = path.join(root, `out-${platform}`);
  const electronDist = await writeElectronStandIn(path.join(root, `electron-${platform}`), platform);
  const target = { linux: Platform.LINUX, win32: Platform.WINDOWS, darwin: Platform.MAC }[platform].createTarget('dir', Arch[arch]);
  await build({
    projectDir: repoRoot,
    targets: target,
    publish: 'never',
    // Merged over electron-builder.yml: the stand-in, no native rebuild (no network), no fuses (no sentinel), no
    // Windows executable editing (rcedit needs Wine here).
    config: { electronDist, npmRebuild: false, electronFuses: null, directories: { output }, win: { signAndEditExecutable: false } },
  });
  packaged.set(platform, output);
  return output;
}

describe.each([
  ['linux', 'x64'],
  ['win32', 'x64'],
  ['darwin', 'arm64'],
] as const)('the %s package (%s), made offline', (platform, arch) => {
  it("holds the app's entries, its own ONNX Runtime binding unpacked, and no other platform's", async () => {
    const resources = await resourcesDir(await packageFor(platform, arch), platform);
    const inAsar = asar.listPackage(path.join(resources, 'app.asar'), { isPack: false }).map((p) => p.replaceAll('\\', '/'));
    for (const entry of ['/package.json', '/out/main/index.js', '/out/preload/index.cjs', '/out/renderer/index.html', '/out/utility/main.js', '/out/assets/tray-32.png']) {
      expect([entry, inAsar.includes(entry)]).toEqual([entry, true]);
    }
    expect(inAsar.filter((p) => p.endsWith('.map'))).toEqual([]);
    const unpacked = await filesUnder(path.join(resources, 'app.asar.unpacked'));
    const ortFolders = new Set([...inAsar, ...unpacked.map((f) => `/${f}`)].flatMap((p) => p.match(/onnxruntime-node\/bin\/napi-v6\/([^/]+\/[^/]+)\//)?.[1] ?? []));
    expect([...ortFolders]).toEqual([`${platform}/${arch}`]);
    const binding = platform === 'win32' ? ['onnxruntime_binding.node', 'onnxruntime.dll'] : platform === 'darwin' ? ['onnxruntime_binding.node', 'libonnxruntime.1.dylib'] : ['onnxruntime_binding.node', 'libonnxruntime.so.1'];
    for (const file of binding) expect(unpacked).toContain(`${ORT_BIN}/${platform}/${arch}/${file}`);
    // sharp's binaries are those npm installed here (this machine's): each platform packages on its own runner.
    expect(unpacked.some((f) => f.startsWith(`node_modules/@img/sharp-libvips-${process.platform}-${process.arch}/lib/libvips-cpp.`))).toBe(true);
    if (platform === 'darwin') {
      const info = await readFile(path.join(resources, '..', 'Info.plist'), 'utf8');
      expect(info).toMatch(/<key>NSScreenCaptureUsageDescription<\/key>/);
    }
  });
});

describe('the packaged app', () => {
  it('the utility entry runs from the unpacked layout: it loads ONNX Runtime from the package and answers', async () => {
    const output = packaged.get('linux') ?? (await packageFor('linux', 'x64'));
    const resources = await resourcesDir(output, 'linux');
    // The asar extracted, with its .unpacked files in place: the layout Electron presents to the utility process.
    const app = path.join(root, 'extracted-app');
    asar.extractAll(path.join(resources, 'app.asar'), app);
    const model = path.join(root, 'model');
    await writeSmolVlmModel(model, { seed: 4, precisions: ['fp32'] });
    const png = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, 'screen.png'), 640, 360)));
    const supervisor = new EngineSupervisor({
      launcher: createNodeLauncher({ execArgv: ['--import', path.join(fakeElectronDir(), 'parent-port.mjs')], env: { ...process.env, NODE_PATH: '' } }),
      entry: path.join(app, 'out', 'utility', 'main.js'),
    });
    try {
      await supervisor.load({ dir: model, precision: 'fp32' });
      const answer = await supervisor.ask({
        conversationId: 'packaged',
        start: { image: { kind: 'png', bytes: png }, detail: 'low' },
        question: 'What is on the screen?',
        options: { maxNewTokens: 3 },
      }).result;
      expect(answer.tokenIds).toHaveLength(3);
      // The ONNX Runtime library mapped into the process is the package's, not the repository's.
      const maps = await readFile(`/proc/${supervisor.pid}/maps`, 'utf8');
      expect(maps).toContain(path.join(app, ORT_BIN, 'linux', 'x64', 'libonnxruntime.so.1'));
      expect(maps).not.toContain(path.join(repoRoot, ORT_BIN));
    } finally {
      await supervisor.stop();
    }
  });

  it('the deb gets the maintainer (with an e-mail), the homepage and the AppArmor profile it needs, installed', async () => {
    const output = packaged.get('linux') ?? (await packageFor('linux', 'x64'));
    const prepackaged = path.join(output, 'linux-unpacked');
    let fpmArgs: string[] | undefined;
    let afterInstall = '';
    await build({
      projectDir: repoRoot,
      targets: Platform.LINUX.createTarget('deb', Arch.x64),
      publish: 'never',
      prepackaged,
      config: { electronDist: path.join(root, 'electron-linux'), npmRebuild: false, electronFuses: null, directories: { output: path.join(root, 'out-deb') } },
      // electron-builder's own hook: the fpm command it would run, before running it (fpm itself is a download).
      effectiveOptionComputed: async (options: unknown) => {
        fpmArgs = (options as [string[], string])[0];
        // The package's post-install script, read while electron-builder's temporary copy exists.
        afterInstall = await readFile(fpmArgs[fpmArgs.indexOf('--after-install') + 1]!, 'utf8');
        return true;
      },
    });
    const arg = (name: string) => fpmArgs?.[fpmArgs.indexOf(name) + 1];
    expect(arg('--maintainer')).toMatch(/^.+ <[^@\s]+@[^@\s]+>$/);
    expect(arg('--url')).toMatch(/^https:\/\//);
    // The supported path on Ubuntu 23.10 and later: a profile that lets the installed executable use user namespaces
    // (Chromium's sandbox), which the post-install script copies into /etc/apparmor.d. A deb `afterInstall` or
    // `appArmorProfile` of our own in the configuration would have to keep both.
    const installed = `/opt/${String(config.productName)}/${String(config.executableName)}`;
    expect((await stat(path.join(prepackaged, String(config.executableName)))).isFile()).toBe(true);
    const profile = await readFile(path.join(prepackaged, 'resources', 'apparmor-profile'), 'utf8');
    expect(profile).toContain(`"${installed}"`);
    expect(profile).toMatch(/^\s*userns,$/m);
    expect(afterInstall).toContain(`APPARMOR_PROFILE_SOURCE='/opt/${String(config.productName)}/resources/apparmor-profile'`);
    expect(afterInstall).toContain('cp -f "$APPARMOR_PROFILE_SOURCE" "$APPARMOR_PROFILE_TARGET"');
  });
});
