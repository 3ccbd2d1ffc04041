// Stand-ins for Electron's unpacked distribution, one per platform, for electron-builder's `electronDist`: just the
// files it renames, reads or edits while packaging, so that it packages offline. None of them runs. The Windows
// executable must be a real PE file (electron-builder writes the asar's hash into its resources): rcedit.exe from
// electron-winstaller's vendor folder, already in node_modules through electron-builder, serves.
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

export type PackagePlatform = 'linux' | 'win32' | 'darwin';

const plist = (executable: string, id: string) =>
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
  `<plist version="1.0"><dict><key>CFBundleExecutable</key><string>${executable}</string>` +
  `<key>CFBundleIdentifier</key><string>${id}</string><key>CFBundleName</key><string>${executable}</string></dict></plist>\n`;

async function touch(file: string, content: string | Uint8Array = ''): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
}

/** Writes a stand-in distribution for `platform` into `dir` and returns `dir`. */
export async function writeElectronStandIn(dir: string, platform: PackagePlatform): Promise<string> {
  await touch(path.join(dir, 'version'), '45.4.1');
  await touch(path.join(dir, 'LICENSE'), 'stand-in');
  switch (platform) {
    case 'linux':
      await touch(path.join(dir, 'electron'), '#!/bin/sh\necho "a stand-in for Electron: it does not run" >&2\nexit 1\n');
      await touch(path.join(dir, 'chrome-sandbox'));
      await mkdir(path.join(dir, 'resources'), { recursive: true });
      break;
    case 'win32': {
      const require = createRequire(import.meta.url);
      const vendor = path.join(path.dirname(require.resolve('electron-winstaller/package.json')), 'vendor');
      await mkdir(path.join(dir, 'resources'), { recursive: true });
      await copyFile(path.join(vendor, 'rcedit.exe'), path.join(dir, 'electron.exe'));
      break;
    }
    case 'darwin': {
      const contents = path.join(dir, 'Electron.app', 'Contents');
      await touch(path.join(contents, 'Info.plist'), plist('Electron', 'com.github.Electron'));
      await touch(path.join(contents, 'MacOS', 'Electron'));
      await touch(path.join(contents, 'Resources', 'electron.icns'));
      await mkdir(path.join(contents, 'Frameworks', 'Electron Framework.framework'), { recursive: true });
      for (const helper of ['', ' (GPU)', ' (Renderer)', ' (Plugin)']) {
        const app = path.join(contents, 'Frameworks', `Electron Helper${helper}.app`, 'Contents');
        await touch(path.join(app, 'Info.plist'), plist(`Electron Helper${helper}`, 'com.github.Electron.helper'));
        await touch(path.join(app, 'MacOS', `Electron Helper${helper}`));
      }
      break;
    }
  }
  return dir;
}
