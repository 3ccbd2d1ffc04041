// The renderer ↔ main contract: every channel name and every payload schema lives here, so the preload exposes
// exactly these channels and the main process validates exactly these shapes. Nothing else crosses the bridge.
import { z } from 'zod';

export { IpcChannel, IpcEvent, STREAM_PORT_MESSAGE, type IpcChannelName } from './ipc-channels.js';
import { IpcChannel } from './ipc-channels.js';

const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/);
const question = z.string().trim().min(1).max(4000);

/** A rectangle in DIPs (device-independent pixels) relative to the captured display's top-left corner. */
export const rectSchema = z
  .object({
    x: z.number().finite().min(0),
    y: z.number().finite().min(0),
    width: z.number().finite().positive(),
    height: z.number().finite().positive(),
  })
  .strict();
export type Rect = z.infer<typeof rectSchema>;

export const askRequestSchema = z
  .object({
    question,
    /** A capture id returned by `capture`; absent: a text-only question. */
    captureId: id.optional(),
    detail: z.enum(['low', 'high']).optional(),
  })
  .strict();
export type AskRequest = z.infer<typeof askRequestSchema>;

export const followUpRequestSchema = z.object({ askId: id, question }).strict();
export type FollowUpRequest = z.infer<typeof followUpRequestSchema>;

export const cancelRequestSchema = z.object({ askId: id }).strict();
export type CancelRequest = z.infer<typeof cancelRequestSchema>;

export const captureRequestSchema = z
  .object({ mode: z.enum(['screen', 'region']), region: rectSchema.optional() })
  .strict()
  .refine((r) => r.mode === 'screen' || r.region !== undefined, { message: 'region mode needs a region' });
export type CaptureRequest = z.infer<typeof captureRequestSchema>;

/** Channels whose payload is empty: only `undefined` passes (a renderer cannot smuggle data through them). */
export const emptySchema = z.undefined();

/** Replies. */
export interface AskReply {
  readonly askId: string;
}
export interface CaptureReply {
  readonly captureId: string;
  readonly width: number;
  readonly height: number;
}

export type ModelState = 'loading' | 'ready' | 'error' | 'restarting' | 'stopped';
export interface AppStatus {
  readonly model: { readonly name: string; readonly state: ModelState; readonly message?: string };
  readonly hotkey: { readonly accelerator: string | null; readonly state: HotkeyState; readonly message?: string };
}
export type HotkeyState = 'registered' | 'disabled' | 'failed' | 'unreliable';

/** Sent on `IpcEvent.trigger`: a frame was captured; the page should ask the user's question about it. */
export interface TriggerMessage {
  readonly captureId: string;
  readonly width: number;
  readonly height: number;
}

/** What streams on a stream port, one message per event. */
export type StreamMessage =
  | { readonly type: 'progress'; readonly stage: string }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'token'; readonly text: string }
  | { readonly type: 'done'; readonly stats?: unknown }
  | { readonly type: 'error'; readonly message: string };

/** Payload schemas for every invoke channel except setSettings, whose schema is injected (it belongs to settings). */
export const fixedPayloadSchemas = {
  [IpcChannel.ask]: askRequestSchema,
  [IpcChannel.cancel]: cancelRequestSchema,
  [IpcChannel.followUp]: followUpRequestSchema,
  [IpcChannel.getSettings]: emptySchema,
  [IpcChannel.capture]: captureRequestSchema,
  [IpcChannel.subscribeStatus]: emptySchema,
} as const;

/** The API the preload exposes as `window.screenask`. */
export interface ScreenAskApi {
  ask(request: AskRequest): Promise<AskReply>;
  followUp(request: FollowUpRequest): Promise<AskReply>;
  cancel(request: CancelRequest): Promise<void>;
  capture(request: CaptureRequest): Promise<CaptureReply>;
  getSettings(): Promise<unknown>;
  setSettings(settings: unknown): Promise<unknown>;
  subscribeStatus(listener: (status: AppStatus) => void): Promise<() => void>;
  onTrigger(listener: (trigger: TriggerMessage) => void): () => void;
}
