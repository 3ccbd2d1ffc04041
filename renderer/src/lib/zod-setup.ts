// Imported first by main.ts. zod compiles object parsers with `new Function` when it may; under this page's CSP
// (script-src 'self') its probe for that throws and is reported as a CSP violation on every start. jitless makes zod
// skip the probe and parse without generating code: nothing in the renderer evaluates strings.
import { config } from 'zod';

config({ jitless: true });
