/**
 * fast-check building blocks shared by the fuzz tests: anything a message could be after structured clone or
 * JSON.parse, and mutations of a valid message (a field dropped, replaced, added, or its type changed), which reach
 * deeper into a validator than random values alone.
 */
import fc from 'fast-check';

/** Values as they can arrive over IPC (structured clone): nested objects and arrays, typed arrays, dates, odd numbers. */
export const anyMessage = (): fc.Arbitrary<unknown> =>
  fc.anything({
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withNullPrototype: true,
    withObjectString: true,
    withSet: true,
    withTypedArray: true,
    withSparseArray: true,
    maxDepth: 3,
  });

/** A valid object with one field dropped, one replaced by anything, one unknown field added, or left as it is. */
export function mutated<T extends object>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return valid.chain((message) => {
    const keys = Object.keys(message);
    const key = keys.length > 0 ? fc.constantFrom(...keys) : fc.constant('type');
    return fc.oneof(
      fc.constant(message),
      key.map((k) => Object.fromEntries(Object.entries(message).filter(([name]) => name !== k))),
      fc.tuple(key, anyMessage()).map(([k, value]) => ({ ...message, [k]: value })),
      fc.tuple(fc.string({ maxLength: 12 }), anyMessage()).map(([k, value]) => ({ ...message, [k]: value })),
    );
  });
}

/** One line: what every rejection message must be. */
export const isOneLine = (text: unknown): boolean => typeof text === 'string' && text.length > 0 && !text.includes('\n');
