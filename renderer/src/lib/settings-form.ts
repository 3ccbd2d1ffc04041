// The settings form's pure logic: stored settings ↔ what the inputs hold, one field's input → a validated patch, and
// the settings store's reply → per-field errors. Validation is the shared `validateSettingsPatch`, the very check the
// main process applies, so the page never offers to save a value the store would refuse.
import {
  numericRanges,
  settingLabels,
  validateSettingsPatch,
  type SettingName,
  type Settings,
  type SettingsFieldError,
  type SettingsPatch,
} from '../../../electron/shared/settings.js';

export type NumericField = keyof typeof numericRanges;
export const numericFields = Object.keys(numericRanges) as NumericField[];

/** What the inputs hold: numbers as the text typed (so "", "abc" and "1e3" can be told apart), hotkey '' = none. */
export interface SettingsForm {
  model: string;
  precision: string;
  device: string;
  maxNewTokens: string;
  temperature: string;
  topK: string;
  topP: string;
  repetitionPenalty: string;
  useCache: boolean;
  imageDetail: string;
  hotkey: string;
  saveScreenshotsInHistory: boolean;
  backend: string;
  /** '' = none. */
  serverUrl: string;
  /** '' = none. */
  serverModel: string;
  serveModel: boolean;
  /** The port as typed ('0' = any free port). */
  servePort: string;
}
/** Every form field is a setting; the confirmed servers are not on the form (only the main process writes them). */
export type FormField = keyof SettingsForm & SettingName;

export function formFromSettings(s: Settings): SettingsForm {
  const text = (n: number | null) => (n === null ? '' : String(n));
  return {
    model: s.model ?? '',
    precision: s.precision,
    device: s.device,
    maxNewTokens: text(s.maxNewTokens),
    temperature: text(s.temperature),
    topK: text(s.topK),
    topP: text(s.topP),
    repetitionPenalty: text(s.repetitionPenalty),
    useCache: s.useCache,
    imageDetail: s.imageDetail,
    hotkey: s.hotkey ?? '',
    saveScreenshotsInHistory: s.saveScreenshotsInHistory,
    backend: s.backend,
    serverUrl: s.serverUrl ?? '',
    serverModel: s.serverModel ?? '',
    serveModel: s.serveModel,
    servePort: String(s.servePort),
  };
}

/**
 * A number field's text → its patch value: '' is the model default (null), a number is itself, anything else is left
 * as text so that validation reports "must be a number (got "abc")" rather than silently storing the default.
 */
export function numberFromText(text: string): number | null | string {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : trimmed;
}

/** One field's form value → the patch that would store it (before validation). */
export function fieldPatch<K extends FormField>(field: K, value: SettingsForm[K]): SettingsPatch {
  if ((numericFields as string[]).includes(field) || field === 'servePort') return { [field]: numberFromText(value as string) };
  if (field === 'model' || field === 'hotkey' || field === 'serverUrl' || field === 'serverModel') {
    const text = (value as string).trim();
    return { [field]: text === '' ? null : text };
  }
  return { [field]: value } as SettingsPatch;
}

/** The whole form → one patch (what "save everything" would send). */
export function patchFromForm(form: SettingsForm): SettingsPatch {
  const patch: SettingsPatch = {};
  for (const field of Object.keys(form) as (keyof SettingsForm)[]) {
    Object.assign(patch, fieldPatch(field, form[field]));
  }
  return patch;
}

export type FieldCheck =
  | { readonly ok: true; readonly patch: Partial<Settings> }
  | { readonly ok: false; readonly message: string };

/** Validates one field as the user edits it. */
export function checkField<K extends FormField>(field: K, value: SettingsForm[K]): FieldCheck {
  const result = validateSettingsPatch(fieldPatch(field, value));
  if (result.ok) return { ok: true, patch: result.patch };
  const error = result.errors.find((e) => e.field === field) ?? result.errors[0];
  return { ok: false, message: error?.message ?? `${settingLabels[field]} is not valid.` };
}

/** The hint under a number field: its range, from the engine's schema. */
export function rangeHint(field: NumericField): string {
  const r = numericRanges[field];
  const low = r.minExclusive ? `above ${r.min}` : `${r.min}`;
  const kind = r.integer ? 'a whole number' : 'a number';
  return `${kind}, ${low} to ${r.max}; empty for the model’s default`;
}

/** The step a number input uses: whole numbers for integer fields, hundredths otherwise. */
export function stepOf(field: NumericField): string {
  return numericRanges[field].integer ? '1' : '0.01';
}

/** Errors keyed by field ('' = about the settings as a whole). */
export function errorsByField(errors: readonly SettingsFieldError[]): Partial<Record<SettingName | '', string>> {
  const out: Partial<Record<SettingName | '', string>> = {};
  for (const e of errors) out[e.field] = out[e.field] ? `${out[e.field]} ${e.message}` : e.message;
  return out;
}
