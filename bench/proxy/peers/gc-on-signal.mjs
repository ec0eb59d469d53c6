// Preloaded into every Node proxy (lifeline included) with `--expose-gc --import`: a full GC on
// SIGUSR2, so that S4 reads each Node proxy's RSS after its garbage is gone rather than at a
// moment chosen by the collector. Native proxies need no such step.
if (typeof globalThis.gc === 'function') {
  process.on('SIGUSR2', () => {
    globalThis.gc();
    globalThis.gc();
  });
}
