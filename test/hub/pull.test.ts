/**
 * `pullModel` end to end against the fake Hub on loopback: a generated tiny SmolVLM served as a catalogue repo is
 * downloaded, pinned, validated and then answers a question through `loadModel`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogue, findModel, type CatalogueEntry } from '../../native-models/hub/catalogue.js';
import type { DownloadProgress } from '../../native-models/hub/download.js';
import { HubError } from '../../native-models/hub/errors.js';
import { listInstalled, readManifest, readPending, removeModel } from '../../native-models/hub/installed.js';
import { pullModel, remotePrecisions } from '../../native-models/hub/pull.js';
import { loadModel } from '../../native-models/index.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { collectAnswer } from '../support/answers.js';
import { fakeSha, folderFiles, startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { writeGradient } from '../support/images.js';

const repo = 'HuggingFaceTB/SmolVLM-256M-Instruct';
const sha = fakeSha('smolvlm-256m-v1');
const tinyEntry: CatalogueEntry = { ...findModel('SmolVLM-256M-Instruct'), id: 'Tiny-Instruct', repo: 'test/Tiny-Instruct' };

let root: string;
let hub: FakeHub;
let image: string;


beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-pull-'));
  await writeSmolVlmModel(path.join(root, 'src'), { seed: 7, precisions: ['fp32', 'q8'] });
  const files = { ...(await folderFiles(path.join(root, 'src'))), 'README.md': new TextEncoder().encode('# not needed\n') };
  hub = await startFakeHub({
    repos: { [repo]: { sha, files }, [tinyEntry.repo]: { sha: fakeSha('tiny'), files } },
  });
  image = await writeGradient(path.join(root, 'image.png'), 320, 200);
});

afterAll(async () => {
  await hub?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('pullModel', () => {
  const modelsDir = () => path.join(root, 'models');

  it('downloads one precision, pins the commit in the manifest, and the model answers', async () => {
    const events: DownloadProgress[] = [];
    const result = await pullModel('SmolVLM-256M-Instruct', {
      modelsDir: modelsDir(),
      endpoint: hub.endpoint,
      precision: 'fp32',
      onProgress: (p) => events.push(p),
    });
    expect(result.dir).toBe(path.join(modelsDir(), 'HuggingFaceTB--SmolVLM-256M-Instruct'));
    expect(result.sha).toBe(sha);
    expect(result.alreadyInstalled).toBe(false);
    const manifest = await readManifest(result.dir);
    expect(manifest).toMatchObject({ schema: 1, repo, sha, precisions: ['fp32'] });
    expect(manifest!.files.map((f) => f.path)).toContain('onnx/decoder_model_merged.onnx');
    expect(manifest!.files.map((f) => f.path)).not.toContain('onnx/decoder_model_merged_quantized.onnx');
    expect(Date.parse(manifest!.installedAt)).not.toBeNaN();
    expect(await readPending(result.dir)).toBeUndefined();
    expect(existsSync(path.join(result.dir, 'README.md'))).toBe(false);
    expect(events.length).toBeGreaterThan(0);
    expect(events.at(-1)!.bytes).toBe(result.bytes);

    const model = await loadModel(result.dir, { precision: 'fp32' });
    try {
      const answer = await collectAnswer(model.startConversation({ image, detail: 'low' }).ask('What is this?', { maxNewTokens: 4 }));
      expect(answer.tokenIds).toHaveLength(4);
    } finally {
      await model.dispose();
    }
  });

  it('adds a second precision to the same folder at the pinned commit', async () => {
    const before = hub.requests.length;
    const result = await pullModel(repo, { modelsDir: modelsDir(), endpoint: hub.endpoint, precision: 'q8' });
    const api = hub.requests.slice(before).filter((r) => r.url.startsWith('/api/'));
    // The revision asked for is the pinned sha, not `main`.
    expect(api.length).toBeGreaterThan(0);
    for (const r of api) expect(r.url).toContain(`/revision/${sha}`);
    expect(result.manifest.precisions).toEqual(['fp32', 'q8']);
    expect(result.manifest.sha).toBe(sha);
    const installed = await listInstalled(modelsDir());
    expect(installed).toEqual([expect.objectContaining({ id: 'SmolVLM-256M-Instruct', precisions: ['fp32', 'q8'], complete: true, sha })]);

    const again = await pullModel('SmolVLM-256M-Instruct', { modelsDir: modelsDir(), endpoint: hub.endpoint, precision: 'q8' });
    expect(again.alreadyInstalled).toBe(true);
  });

  it('a precision the repo lacks fails with the available ones and their sizes', async () => {
    const error = await pullModel('SmolVLM-256M-Instruct', { modelsDir: modelsDir(), endpoint: hub.endpoint, precision: 'q4f16' }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /^HuggingFaceTB\/SmolVLM-256M-Instruct \(commit [0-9a-f]{12}\) has no q4f16 files; available precisions: fp32 \([\d.]+ [kM]B\), q8 \([\d.]+ [kM]B\)\. Pass one with --precision\.$/,
    );
    const remote = await remotePrecisions('SmolVLM-256M-Instruct', { endpoint: hub.endpoint });
    expect(remote.available.map((a) => a.precision)).toEqual(['fp32', 'q8']);
  });

  it('an unknown id lists the catalogue', async () => {
    await expect(pullModel('NoSuchModel', { modelsDir: modelsDir(), endpoint: hub.endpoint })).rejects.toThrow(
      `Unknown model "NoSuchModel": choose one of ${catalogue.map((e) => e.id).join(', ')}, or give a full owner/name repo.`,
    );
  });

  it('a cancelled pull leaves a pinned partial download that the next pull resumes and completes', async () => {
    const dir = path.join(root, 'models-cancel');
    const controller = new AbortController();
    const options = { modelsDir: dir, endpoint: hub.endpoint, precision: 'q8' as const, catalogue: [tinyEntry] };
    const error = await pullModel('Tiny-Instruct', { ...options, signal: controller.signal, onProgress: () => controller.abort() }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).kind).toBe('cancelled');
    const folder = path.join(dir, 'test--Tiny-Instruct');
    expect(await readManifest(folder)).toBeUndefined();
    expect(await readPending(folder)).toMatchObject({ repo: 'test/Tiny-Instruct', sha: fakeSha('tiny'), precision: 'q8' });
    expect(await listInstalled(dir)).toEqual([expect.objectContaining({ id: 'Tiny-Instruct', complete: false })]);

    const result = await pullModel('Tiny-Instruct', options);
    expect(result.manifest.precisions).toEqual(['q8']);
    expect(await readPending(folder)).toBeUndefined();

    await removeModel(dir, 'Tiny-Instruct');
    expect(existsSync(folder)).toBe(false);
    await expect(removeModel(dir, 'Tiny-Instruct')).rejects.toThrow(/No installed model "Tiny-Instruct"/);
  });
});
