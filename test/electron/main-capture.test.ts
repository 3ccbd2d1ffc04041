import { describe, expect, it } from 'vitest';
import {
  CaptureError,
  SCREEN_RECORDING_SETTINGS_URL,
  captureDisplayUnderCursor,
  matchSource,
  physicalSize,
  regionToPixels,
  type CaptureDeps,
  type CaptureSourceLike,
  type DisplayLike,
} from '../../electron/main/capture.js';
import { FakeImage, FakeScreenRecordingPermission } from './fakes.js';

const left: DisplayLike = { id: 11, bounds: { x: 0, y: 0, width: 1920, height: 1080 }, size: { width: 1920, height: 1080 }, scaleFactor: 1 };
const right: DisplayLike = { id: 22, bounds: { x: 1920, y: 0, width: 1440, height: 900 }, size: { width: 1440, height: 900 }, scaleFactor: 2 };

function source(displayId: string, image: FakeImage): CaptureSourceLike {
  return { id: `screen:${displayId || image.label}:0`, name: 'Screen', display_id: displayId, thumbnail: image };
}

function deps(cursor: { x: number; y: number }, makeSources: (size: { width: number; height: number }) => CaptureSourceLike[], extra: Partial<CaptureDeps> = {}) {
  const requests: unknown[] = [];
  const d: CaptureDeps = {
    platform: 'linux',
    screen: {
      getCursorScreenPoint: () => cursor,
      getDisplayNearestPoint: (p) => (p.x >= 1920 ? right : left),
      getAllDisplays: () => [left, right],
    },
    desktopCapturer: {
      getSources: async (options) => {
        requests.push(options);
        return makeSources(options.thumbnailSize);
      },
    },
    ...extra,
  };
  return { d, requests };
}

describe('capture', () => {
  it('captures the display under the cursor at physical resolution, matched by display_id', async () => {
    const { d, requests } = deps({ x: 2000, y: 10 }, () => [source('11', new FakeImage(1920, 1080, 'left')), source('22', new FakeImage(2880, 1800, 'right'))]);
    const frame = await captureDisplayUnderCursor(d);
    expect(requests).toEqual([{ types: ['screen'], thumbnailSize: { width: 2880, height: 1800 } }]);
    expect(frame).toMatchObject({ width: 2880, height: 1800, displayId: 22, displaySize: { width: 1440, height: 900 }, displayBounds: right.bounds });
    expect(new TextDecoder().decode(frame.png)).toBe('png:right:2880x1800');
  });

  it('falls back to the display index when display_id is empty (Linux)', () => {
    const sources = [source('', new FakeImage(1920, 1080, 'a')), source('', new FakeImage(2880, 1800, 'b'))];
    expect(matchSource(right, [left, right], sources)?.thumbnail).toBe(sources[1]!.thumbnail);
    expect(matchSource(left, [left, right], sources)?.thumbnail).toBe(sources[0]!.thumbnail);
  });

  it('falls back to the thumbnail size when the source count differs from the display count', () => {
    const sources = [source('', new FakeImage(1920, 1080, 'a')), source('', new FakeImage(2880, 1800, 'b')), source('', new FakeImage(800, 600, 'c'))];
    expect(matchSource(right, [left, right], sources)?.thumbnail).toBe(sources[1]!.thumbnail);
    expect(matchSource(left, [left, right], [source('', new FakeImage(100, 100))])).toBeDefined();
    expect(matchSource(left, [left, right], [source('99', new FakeImage(1920, 1080))])).toBeUndefined();
  });

  it('maps a DIP region onto physical pixels, outward-rounded and clamped', () => {
    expect(physicalSize(right)).toEqual({ width: 2880, height: 1800 });
    expect(regionToPixels({ x: 10, y: 20, width: 100, height: 50 }, right.size, { width: 2880, height: 1800 })).toEqual({ x: 20, y: 40, width: 200, height: 100 });
    // A fractional scale factor (1.25) rounds outwards so the selection is never cut.
    expect(regionToPixels({ x: 1.5, y: 1.5, width: 3, height: 3 }, { width: 100, height: 100 }, { width: 125, height: 125 })).toEqual({ x: 1, y: 1, width: 5, height: 5 });
    // A region that runs past the edge is clamped; one entirely outside is an error.
    expect(regionToPixels({ x: 1400, y: 880, width: 100, height: 100 }, right.size, { width: 2880, height: 1800 })).toEqual({ x: 2800, y: 1760, width: 80, height: 40 });
    expect(() => regionToPixels({ x: 2000, y: 0, width: 10, height: 10 }, right.size, { width: 2880, height: 1800 })).toThrow(RangeError);
  });

  it('crops a selected region from the physical-resolution frame', async () => {
    const image = new FakeImage(2880, 1800, 'right');
    const { d } = deps({ x: 2000, y: 10 }, () => [source('22', image)]);
    const region = (await captureDisplayUnderCursor(d)).crop({ x: 100, y: 100, width: 300, height: 200 });
    expect(image.crops).toEqual([{ x: 200, y: 200, width: 600, height: 400 }]);
    expect(region).toMatchObject({ width: 600, height: 400, displaySize: { width: 300, height: 200 } });
  });

  it('previews a frame scaled down to the width asked for, keeping its proportions, and never scales up', async () => {
    const { d } = deps({ x: 2000, y: 10 }, () => [source('22', new FakeImage(2880, 1800, 'right'))]);
    const frame = await captureDisplayUnderCursor(d);
    const preview = frame.preview(640);
    expect(preview).toEqual({ dataUrl: expect.stringMatching(/^data:image\/png;base64,/), width: 640, height: 400 });
    expect(Buffer.from(preview.dataUrl.split(',')[1]!, 'base64').toString()).toBe('png:right-resized:640x400');
    const small = frame.crop({ x: 0, y: 0, width: 100, height: 50 }).preview(640);
    expect(small).toMatchObject({ width: 200, height: 100 });
    expect(Buffer.from(small.dataUrl.split(',')[1]!, 'base64').toString()).toBe('png:right-crop@0,0:200x100');
  });

  it('on macOS without the permission, tries one tiny capture (so macOS lists ScreenAsk and prompts), then explains', async () => {
    // macOS's privacy database, as it behaves: the status is never 'not-determined', and an app appears in System
    // Settings only after it has tried to capture.
    const tcc = new FakeScreenRecordingPermission();
    const { d, requests } = deps({ x: 0, y: 0 }, (size) => (tcc.attempted(), [source('11', new FakeImage(size.width, size.height, 'wallpaper'))]), {
      platform: 'darwin',
      systemPreferences: tcc,
    });
    const error = await captureDisplayUnderCursor(d).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CaptureError);
    expect(error).toMatchObject({ code: 'permission-denied', settingsUrl: SCREEN_RECORDING_SETTINGS_URL });
    expect((error as Error).message).toMatch(/Screen Recording/);
    expect(tcc.listedInSystemSettings).toBe(true);
    // The attempt asked for a single pixel: nothing of the screen (only the wallpaper, without permission) is kept.
    expect(requests).toEqual([{ types: ['screen'], thumbnailSize: { width: 1, height: 1 } }]);

    // The user allows ScreenAsk at the prompt or in System Settings: the next capture goes ahead at full size.
    tcc.grant();
    requests.length = 0;
    const frame = await captureDisplayUnderCursor(d);
    expect(frame.width).toBe(1920);
    expect(requests).toEqual([{ types: ['screen'], thumbnailSize: { width: 1920, height: 1080 } }]);
  });

  it('reports no matching source and an empty image (declined Wayland portal)', async () => {
    await expect(captureDisplayUnderCursor(deps({ x: 0, y: 0 }, () => []).d)).rejects.toMatchObject({ code: 'no-source' });
    await expect(captureDisplayUnderCursor(deps({ x: 0, y: 0 }, () => [source('11', new FakeImage(0, 0))]).d)).rejects.toMatchObject({ code: 'empty-image' });
  });
});
