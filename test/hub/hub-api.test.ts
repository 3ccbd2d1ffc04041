import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubError } from '../../native-models/hub/errors.js';
import { resolveRevision } from '../../native-models/hub/hub-api.js';
import { fakeBytes, fakeSha, startFakeHub, type FakeHub } from '../support/fake-hub.js';

const SHA = fakeSha('tiny');
const big = fakeBytes(300 * 1024, 7);
const config = new TextEncoder().encode('{"model_type":"smolvlm"}');

let hub: FakeHub;
beforeAll(async () => {
  hub = await startFakeHub({
    repos: {
      'screenask/tiny': { sha: SHA, files: { 'config.json': config, 'onnx/model.onnx': big } },
      'screenask/needs-token': { sha: fakeSha('t'), gated: 'token', files: { 'config.json': config } },
      'screenask/licence': { sha: fakeSha('l'), gated: 'licence', files: { 'config.json': config } },
    },
  });
});
afterAll(() => hub.close());

async function failure(promise: Promise<unknown>): Promise<HubError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HubError);
  const hubError = error as HubError;
  expect(hubError.message).not.toContain('\n');
  return hubError;
}

describe('resolveRevision', () => {
  it('resolves a branch to its commit, with sizes and the sha256 of LFS files', async () => {
    const revision = await resolveRevision('screenask/tiny', 'main', { endpoint: hub.endpoint, token: '' });
    expect(revision.repo).toBe('screenask/tiny');
    expect(revision.sha).toBe(SHA);
    expect(revision.files).toEqual([
      { path: 'config.json', size: config.length },
      { path: 'onnx/model.onnx', size: big.length, sha256: createHash('sha256').update(big).digest('hex') },
    ]);
  });

  it('accepts the commit sha itself', async () => {
    const revision = await resolveRevision('screenask/tiny', SHA, { endpoint: hub.endpoint, token: '' });
    expect(revision.sha).toBe(SHA);
  });

  it('names a missing repo, a missing revision and an impossible id', async () => {
    const repo = await failure(resolveRevision('screenask/nope', 'main', { endpoint: hub.endpoint, token: '' }));
    expect(repo.kind).toBe('not-found');
    expect(repo.message).toMatch(/Model "screenask\/nope" was not found.*check the model id/);
    const rev = await failure(resolveRevision('screenask/tiny', 'dev', { endpoint: hub.endpoint, token: '' }));
    expect(rev.kind).toBe('not-found');
    expect(rev.message).toMatch(/Revision "dev".*check the branch name/);
    const bad = await failure(resolveRevision('../etc/passwd', 'main', { endpoint: hub.endpoint }));
    expect(bad.kind).toBe('not-found');
  });

  it('asks for a token when a repo needs one, and sends it as a Bearer token', async () => {
    const missing = await failure(resolveRevision('screenask/needs-token', 'main', { endpoint: hub.endpoint, token: '' }));
    expect(missing.kind).toBe('unauthorized');
    expect(missing.message).toMatch(/needs a Hugging Face access token.*HF_TOKEN/);
    const wrong = await failure(resolveRevision('screenask/needs-token', 'main', { endpoint: hub.endpoint, token: 'hf_wrong' }));
    expect(wrong.kind).toBe('unauthorized');
    expect(wrong.message).toMatch(/token was refused.*check HF_TOKEN/);
    const ok = await resolveRevision('screenask/needs-token', 'main', { endpoint: hub.endpoint, token: hub.token });
    expect(ok.files.map((f) => f.path)).toEqual(['config.json']);
    expect(hub.requests.at(-1)?.authorization).toBe(`Bearer ${hub.token}`);
  });

  it('explains a gated model: accept the licence on its page, then set a token', async () => {
    const gated = await failure(resolveRevision('screenask/licence', 'main', { endpoint: hub.endpoint, token: hub.token }));
    expect(gated.kind).toBe('gated');
    expect(gated.message).toContain(`accept its licence at ${hub.endpoint}/screenask/licence`);
  });

  it('retries a passing server error', async () => {
    hub.setFault('@api', { kind: 'status', status: 503 });
    const revision = await resolveRevision('screenask/tiny', 'main', { endpoint: hub.endpoint, token: '' });
    expect(revision.sha).toBe(SHA);
  });

  it('says the network is down when nothing listens', async () => {
    const dead = await startFakeHub({ repos: {} });
    await dead.close();
    const down = await failure(resolveRevision('screenask/tiny', 'main', { endpoint: dead.endpoint, token: '' }));
    expect(down.kind).toBe('network');
    expect(down.message).toMatch(/Cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\).*HF_ENDPOINT/);
  });
});
