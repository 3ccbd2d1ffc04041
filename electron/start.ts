// `npm start`: the desktop shell does not exist yet (it is the Electron issue). Until it does, say so in one line and
// point at what works today, rather than failing somewhere deeper with a confusing error.
process.stderr.write(
  'ScreenAsk desktop app: not built yet (the Electron shell is still to come). ' +
    'Use the command line meanwhile: npm run ask -- --model DIR --image FILE "question" (see README.md).\n',
);
process.exitCode = 1;
