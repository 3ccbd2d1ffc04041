import type { TextTokenizer } from './tokenizer.js';

const REPLACEMENT = '\uFFFD';

/**
 * Incremental detokenization for streaming generated text.
 *
 * Decoding token by token is wrong twice over: a byte-level token may hold only part of a UTF-8 character (decoding it
 * alone yields U+FFFD), and some decoders change a token's text by what precedes it (SentencePiece drops the leading
 * space of the first token). So, as text-generation-inference does, we keep two offsets into the ids: text up to
 * `readOffset` has been emitted; each push decodes the window from `prefixOffset` (one emitted chunk of context) with
 * and without the new ids, and emits the difference once it no longer ends in an incomplete character.
 *
 * Invariant: the concatenation of every push() result and flush() equals `decode(allIds, { skipSpecialTokens })`.
 */
export class StreamDecoder {
  private readonly all: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;
  private readonly skipSpecialTokens: boolean;

  constructor(
    private readonly tokenizer: Pick<TextTokenizer, 'decode'>,
    opts: { skipSpecialTokens?: boolean } = {},
  ) {
    // The user sees answers, not `<end_of_utterance>`.
    this.skipSpecialTokens = opts.skipSpecialTokens ?? true;
  }

  /** Every id pushed so far. */
  get ids(): readonly number[] {
    return this.all;
  }

  /** Adds one generated id; returns the newly completed text ('' while a character is still incomplete). */
  push(id: number): string {
    this.all.push(id);
    const { prefix, full } = this.window();
    // A trailing U+FFFD is (almost always) a character whose remaining bytes are in tokens not yet generated.
    if (full.length <= prefix.length || full.endsWith(REPLACEMENT)) return '';
    this.prefixOffset = this.readOffset;
    this.readOffset = this.all.length;
    return full.slice(prefix.length);
  }

  /**
   * Emits whatever is still held back (at the end of generation that includes a truly incomplete character, as
   * U+FFFD, so the whole equals a plain decode) and starts a fresh window for further pushes.
   */
  flush(): string {
    const { prefix, full } = this.window();
    this.prefixOffset = this.readOffset = this.all.length;
    return full.slice(prefix.length);
  }

  private window(): { prefix: string; full: string } {
    const opts = { skipSpecialTokens: this.skipSpecialTokens };
    return {
      prefix: this.tokenizer.decode(this.all.slice(this.prefixOffset, this.readOffset), opts),
      full: this.tokenizer.decode(this.all.slice(this.prefixOffset), opts),
    };
  }
}
