// Screen capture in the main process: the display under the cursor, at its physical resolution (a model reading small
// text needs every pixel; a DIP-sized thumbnail on a 2× display halves the resolution). Region selection crops the
// same frame, so what the user selected is exactly what was on screen when they pressed the shortcut.
import type { CapturePreview, Rect } from '../shared/ipc.js';

export interface Point {
  readonly x: number;
  readonly y: number;
}
export interface Size {
  readonly width: number;
  readonly height: number;
}

/** The parts of Electron's Display, NativeImage, DesktopCapturerSource, screen and desktopCapturer we use. */
export interface DisplayLike {
  readonly id: number;
  readonly bounds: Rect;
  readonly size: Size;
  readonly scaleFactor: number;
}
export interface NativeImageLike {
  toPNG(): Uint8Array;
  getSize(): Size;
  isEmpty(): boolean;
  crop(rect: Rect): NativeImageLike;
  /** Scales keeping the aspect ratio when only the width is given. */
  resize(options: { width: number }): NativeImageLike;
  /** A PNG data URL. */
  toDataURL(): string;
}
export interface CaptureSourceLike {
  readonly id: string;
  readonly name: string;
  readonly display_id: string;
  readonly thumbnail: NativeImageLike;
}
export interface ScreenLike {
  getCursorScreenPoint(): Point;
  getDisplayNearestPoint(point: Point): DisplayLike;
  getAllDisplays(): DisplayLike[];
}
export interface DesktopCapturerLike {
  getSources(options: { types: Array<'screen' | 'window'>; thumbnailSize: Size }): Promise<CaptureSourceLike[]>;
}
export interface SystemPreferencesLike {
  getMediaAccessStatus(mediaType: 'screen'): string;
}

/** Where macOS keeps the Screen Recording permission; it cannot be requested programmatically. */
export const SCREEN_RECORDING_SETTINGS_URL =
  'x-apple.systempreferences:com.apple.preference.security?Privacy_ScreenCapture';

export type CaptureErrorCode = 'permission-denied' | 'no-source' | 'empty-image';

export class CaptureError extends Error {
  override readonly name = 'CaptureError';
  constructor(
    readonly code: CaptureErrorCode,
    message: string,
    /** A URL that fixes the problem (the System Settings pane for a missing permission). */
    readonly settingsUrl?: string,
  ) {
    super(message);
  }
}

/** One captured frame. `crop` takes a rectangle in DIPs of the captured display. */
export interface ScreenCapture {
  readonly png: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly displayId: number;
  /** Where the captured display sits on the desktop (DIPs): the region overlay covers exactly this. */
  readonly displayBounds: Rect;
  /** The display's size in DIPs; the frame is `width × height` physical pixels of it. */
  readonly displaySize: Size;
  crop(region: Rect): ScreenCapture;
  /** The frame scaled down to at most `maxWidth` pixels wide (never up), as a data URL for a thumbnail. */
  preview(maxWidth: number): CapturePreview;
}

export interface CaptureDeps {
  readonly screen: ScreenLike;
  readonly desktopCapturer: DesktopCapturerLike;
  readonly systemPreferences?: SystemPreferencesLike;
  readonly platform: NodeJS.Platform;
}

/** A display's size in physical pixels. */
export function physicalSize(display: DisplayLike): Size {
  return {
    width: Math.round(display.size.width * display.scaleFactor),
    height: Math.round(display.size.height * display.scaleFactor),
  };
}

/**
 * The capture source of `display`. `display_id` is the reliable key, but it is empty on Linux and sometimes on
 * Windows; then: the source at the display's index when there is one source per display (both lists follow the
 * system's display order), else the only source whose thumbnail has the display's physical size, else the only source.
 */
export function matchSource(
  display: DisplayLike,
  displays: readonly DisplayLike[],
  sources: readonly CaptureSourceLike[],
): CaptureSourceLike | undefined {
  const byId = sources.find((s) => s.display_id !== '' && s.display_id === String(display.id));
  if (byId) return byId;
  const withoutId = sources.filter((s) => s.display_id === '');
  if (withoutId.length === 0) return undefined;
  const index = displays.findIndex((d) => d.id === display.id);
  if (withoutId.length === displays.length && index >= 0) return withoutId[index];
  const want = physicalSize(display);
  const bySize = withoutId.filter((s) => {
    const got = s.thumbnail.getSize();
    return got.width === want.width && got.height === want.height;
  });
  if (bySize.length === 1) return bySize[0];
  return withoutId.length === 1 ? withoutId[0] : undefined;
}

/**
 * The pixel rectangle of a DIP region in an image of `imageSize` that shows a display of `displaySize` DIPs. Scales by
 * the actual ratio (not the nominal scale factor: the OS may hand back a smaller thumbnail), rounds outwards so the
 * selection is never cut, and clamps to the image. Throws on an empty result.
 */
export function regionToPixels(region: Rect, displaySize: Size, imageSize: Size): Rect {
  const sx = imageSize.width / displaySize.width;
  const sy = imageSize.height / displaySize.height;
  const left = clamp(Math.floor(region.x * sx), 0, imageSize.width);
  const top = clamp(Math.floor(region.y * sy), 0, imageSize.height);
  const right = clamp(Math.ceil((region.x + region.width) * sx), 0, imageSize.width);
  const bottom = clamp(Math.ceil((region.y + region.height) * sy), 0, imageSize.height);
  if (right <= left || bottom <= top) throw new RangeError('the selected region lies outside the captured display');
  return { x: left, y: top, width: right - left, height: bottom - top };
}

/**
 * A selection made on the overlay, in the captured display's coordinates. The overlay is asked to cover the display,
 * but macOS keeps windows inside the work area (below the menu bar), so its content may start lower than the display:
 * shift by where the content really is. Both rectangles are desktop DIPs.
 */
export function overlayRegionToDisplay(region: Rect, overlayContent: Rect, displayBounds: Rect): Rect {
  return {
    x: region.x + overlayContent.x - displayBounds.x,
    y: region.y + overlayContent.y - displayBounds.y,
    width: region.width,
    height: region.height,
  };
}

function clamp(value: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, value));
}

/**
 * macOS without the Screen Recording permission captures only the wallpaper, so refuse with a way to fix it. macOS
 * lists an app under Privacy & Security → Screen Recording (and shows its prompt) only once the app has tried to
 * capture, and the status it reports is never `not-determined`: so a missing permission first gets one tiny capture
 * attempt, and only then the explanation. Without that attempt a first run could never be granted at all.
 */
export async function ensureScreenPermission(deps: CaptureDeps): Promise<void> {
  if (deps.platform !== 'darwin' || !deps.systemPreferences) return;
  const status = () => deps.systemPreferences!.getMediaAccessStatus('screen');
  if (status() === 'granted') return;
  await deps.desktopCapturer.getSources({ types: ['screen'], thumbnailSize: { width: 1, height: 1 } }).catch(() => []);
  const after = status();
  if (after === 'granted') return;
  throw new CaptureError(
    'permission-denied',
    `ScreenAsk needs the Screen Recording permission (status: ${after}). Allow ScreenAsk in System Settings → ` +
      'Privacy & Security → Screen Recording, then restart ScreenAsk.',
    SCREEN_RECORDING_SETTINGS_URL,
  );
}

function frame(image: NativeImageLike, display: DisplayLike, displaySize: Size): ScreenCapture {
  const size = image.getSize();
  return {
    png: image.toPNG(),
    width: size.width,
    height: size.height,
    displayId: display.id,
    displayBounds: display.bounds,
    displaySize,
    crop(region: Rect): ScreenCapture {
      const pixels = regionToPixels(region, displaySize, size);
      const regionDips = { width: region.width, height: region.height };
      return frame(image.crop(pixels), display, regionDips);
    },
    preview(maxWidth: number): CapturePreview {
      const scaled = size.width > maxWidth ? image.resize({ width: maxWidth }) : image;
      const { width, height } = scaled.getSize();
      return { dataUrl: scaled.toDataURL(), width, height };
    },
  };
}

/** Captures the display under the cursor at physical resolution. */
export async function captureDisplayUnderCursor(deps: CaptureDeps): Promise<ScreenCapture> {
  await ensureScreenPermission(deps);
  const display = deps.screen.getDisplayNearestPoint(deps.screen.getCursorScreenPoint());
  const displays = deps.screen.getAllDisplays();
  const sources = await deps.desktopCapturer.getSources({ types: ['screen'], thumbnailSize: physicalSize(display) });
  const source = matchSource(display, displays, sources);
  if (!source) {
    throw new CaptureError('no-source', `no capture source matches display ${display.id} (${sources.length} sources)`);
  }
  if (source.thumbnail.isEmpty()) {
    // Wayland's portal returns an empty image when the user declines the share dialog.
    throw new CaptureError('empty-image', 'the screen capture came back empty (was the screen-share prompt declined?)');
  }
  return frame(source.thumbnail, display, display.size);
}
